#include "ddpm/sampling/noise.h"

#include <ATen/CPUGeneratorImpl.h>

namespace ddpm {

NoiseStream::NoiseStream(const std::vector<uint64_t>& seeds, std::vector<int64_t> image_shape,
                         torch::Device device)
    : shape_(std::move(image_shape)), device_(device) {
  for (uint64_t seed : seeds) generators_.push_back(at::make_generator<at::CPUGeneratorImpl>(seed));
}

torch::Tensor NoiseStream::next() {
  std::vector<torch::Tensor> draws;
  draws.reserve(generators_.size());
  for (auto& g : generators_) draws.push_back(torch::randn(shape_, g, torch::kFloat32));
  return torch::stack(draws).to(device_, /*non_blocking=*/true);  // [B, C, H, W]
}

}  // namespace ddpm
