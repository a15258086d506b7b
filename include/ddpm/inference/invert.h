// From images back to the noise that draws them: DDIM inversion over a UNet, batched and
// class-conditioned as generate() draws, and the reconstruction error of decoding it again.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "ddpm/diffusion/diffusion.h"
#include "ddpm/inference/generate.h"
#include "ddpm/model/unet.h"

namespace ddpm {

// The DDIM latents (x at the plan's first timestep) of images [n, C, H, W] in [-1, 1], for the
// plan of options.sampler (which must be DDIM with η = 0), with options' class and guidance.
// `refine`: fixed-point iterations per step (sampling/editing.h, invert_ddim).
torch::Tensor invert(UNet& model, const GaussianDiffusion& diffusion,
                     const GenerateOptions& options, const torch::Tensor& images, int64_t refine);

// PSNR in dB of each of `b` against `a` ([n, C, H, W] in [-1, 1], peak-to-peak 2).
std::vector<double> psnr(const torch::Tensor& a, const torch::Tensor& b);

}  // namespace ddpm
