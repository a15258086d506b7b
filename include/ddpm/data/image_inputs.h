// Images given to a trained model to work on (`ddpm sample --init`, `--mask`, `ddpm invert`): one
// file or the image files of a folder, in the model's geometry as training data is prepared.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ddpm {

struct ImageInputs {
  std::vector<std::string> paths;    // sorted by file name for a folder
  std::vector<int> widths, heights;  // each file's own size, before resizing
  torch::Tensor images;              // uint8 [N, C, size, size]
  int64_t size() const { return static_cast<int64_t>(paths.size()); }
};

// `path` (a file, or a folder whose image files are read, not its subfolders) decoded, converted to
// `channels` and resized and centre-cropped to size × size. `flag` names the path in errors: a
// missing path, a folder without images, a file that does not decode.
ImageInputs load_image_inputs(const std::string& path, int64_t size, int64_t channels,
                              const std::string& flag);

// The inpainting masks for `inputs`, as bool [N, 1, size, size], true where the image is kept:
// `path` is one mask for every input, or a folder holding a mask named as each input (any image
// extension). White regenerates, black keeps; grey is thresholded at half after resizing. A mask
// must have its image's own size (an error names both sizes otherwise).
torch::Tensor load_keep_masks(const std::string& path, const ImageInputs& inputs, int64_t size,
                              const std::string& flag);

// Each input's file_stem, in order: the names outputs and masks are matched by.
std::vector<std::string> input_names(const ImageInputs& inputs);

// The file name without its folder and extension ("a/b/shirt.jpg" → "shirt").
std::string file_stem(const std::string& path);

}  // namespace ddpm
