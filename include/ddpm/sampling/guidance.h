// Classifier-free guidance (Ho & Salimans 2022), optionally limited to a noise interval
// (Kynkäänniemi et al. 2024): a conditional denoiser in, a plain denoiser out, for any sampler.
#pragma once
#include <torch/types.h>

#include "ddpm/diffusion/denoiser.h"
#include "ddpm/diffusion/diffusion.h"

namespace ddpm {

// ε̃ = (1 + w)·ε(x, c) − w·ε(x, ∅). Conditional and unconditional passes run as one batch. Applied
// to the model output, which is affine in ε for every objective, so it is the same rule for ε, x0
// and v models. `guided` (bool [T], optional) limits guidance to the timesteps where it is true;
// elsewhere the conditional output alone is used, and the unconditional pass is skipped.
Denoiser classifier_free_guidance(ConditionalDenoiser model, torch::Tensor labels,
                                  int64_t null_class, double guidance, torch::Tensor guided = {});

// The timesteps whose noise level σ_t (the schedule table's `sigmas`) lies in
// [sigma_min, sigma_max], as a bool [T] mask.
torch::Tensor guidance_timesteps(const GaussianDiffusion& diffusion, double sigma_min,
                                 double sigma_max);

}  // namespace ddpm
