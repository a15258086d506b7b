// A decoded image data set: uint8 pixels, labels and class names, and how the model sees them.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ddpm {

struct Dataset {
  torch::Tensor images;                  // uint8 [N, C, H, W]
  torch::Tensor labels;                  // int64 [N]; all 0 without classes
  std::vector<std::string> class_names;  // sorted first-level subfolder names (when with_classes)
  int64_t skipped = 0;                   // files that could not be decoded
  int64_t size() const { return images.defined() ? images.size(0) : 0; }
};

// uint8 images [N, C, H, W] as the model sees them: float32 in [-1, 1].
torch::Tensor to_model_range(const torch::Tensor& images);

}  // namespace ddpm
