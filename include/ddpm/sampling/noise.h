// Per-image Gaussian noise for sampling: image i's draws come from its own generator seeded with
// seeds[i], so how images are grouped into batches never changes what any one of them sees.
#pragma once
#include <ATen/core/Generator.h>
#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace ddpm {

class NoiseStream {
 public:
  NoiseStream(const std::vector<uint64_t>& seeds, std::vector<int64_t> image_shape,
              torch::Device device);
  torch::Tensor next();  // [B, C, H, W] on the device
  int64_t batch() const { return static_cast<int64_t>(generators_.size()); }

 private:
  std::vector<at::Generator> generators_;
  std::vector<int64_t> shape_;
  torch::Device device_;
};

}  // namespace ddpm
