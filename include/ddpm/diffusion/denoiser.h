// The network as the diffusion maths sees it: a callback from (x_t, t) to the model output in the
// diffusion's objective. Samplers, the likelihood bound and guidance take one; none knows the UNet.
#pragma once
#include <torch/types.h>

#include <functional>

namespace ddpm {

// Returns the model output (in the diffusion's objective) for x_t [B, C, H, W] at timesteps t [B].
using Denoiser = std::function<torch::Tensor(const torch::Tensor& x_t, const torch::Tensor& t)>;

// A conditional model: output for (x_t, t, labels).
using ConditionalDenoiser =
    std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&)>;

}  // namespace ddpm
