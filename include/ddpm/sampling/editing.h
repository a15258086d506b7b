// What editing adds to sampling, for any sampler: start part-way down the plan from a noised image
// (SDEdit, Meng et al. 2022), keep a known region (inpainting), RePaint's resampling path (Lugmayr
// et al. 2022), DDIM inversion (Song et al. 2021, §4.3) and spherical interpolation of latents.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "ddpm/diffusion/denoiser.h"
#include "ddpm/diffusion/diffusion.h"
#include "ddpm/sampling/plan.h"

namespace ddpm {

// An image-to-image strength lies in (0, 1].
inline bool valid_strength(double strength) { return strength > 0.0 && strength <= 1.0; }
// The timestep an image-to-image strength S in (0, 1] starts from: round(S·(T − 1)).
int64_t strength_timestep(int64_t timesteps, double strength);
// The plan from its first timestep ≤ t_start on (the part of the way down from t_start).
SamplingPlan plan_from(const SamplingPlan& plan, int64_t t_start);

// The denoiser that knows part of the image: where `keep` [B, 1, H, W] (bool) is true its x̂_0 is
// `known` [B, C, H, W], and its ε̂ the noise that x_t then holds, ε̂ = (x_t − √ᾱ_t x_known)/√(1 −
// ᾱ_t); elsewhere it is the model's. Returned as a model output in the diffusion's objective, so
// every sampler, clipping and guidance apply unchanged. Each step then moves the known region along
// q(x_{t'} | x_t, x_known), the forward process's own posterior, with the image regenerated around
// it.
Denoiser keep_known(const GaussianDiffusion& diffusion, Denoiser denoiser, torch::Tensor known,
                    torch::Tensor keep);

// RePaint's path over the states 0..n of an n-step ancestral plan (state i: x at plan timestep i;
// state n: the image): down one state at a time, and after each `length` states down (not at the
// image) back up `length` states by the forward process, `jumps` − 1 times for each, before going
// on. jumps = 1 is the plain path 0, 1, …, n.
std::vector<int64_t> repaint_path(int64_t n, int64_t length, int64_t jumps);

// The resampling inpainting uses unless told (measured in tests/unit/sampling/test_editing.cpp and
// docs/results.md): without it the deterministic samplers keep whatever their first steps drew in
// the regenerated region, at odds with the known one for a fifth of the oracle's images; one
// return per step fixes all of them, at twice the network evaluations.
struct ResampleDefaults {
  Sampler sampler;
  int64_t jumps;
  int64_t length;
};
inline constexpr ResampleDefaults kInpaintingResampling[] = {
    {Sampler::ddpm, 2, 10},
    {Sampler::ddim, 2, 1},
    {Sampler::dpmpp2m, 2, 1},
    {Sampler::heun, 2, 1},
};
const ResampleDefaults& inpainting_resampling(Sampler sampler);

// x0 [B, C, H, W] mapped to x at the plan's first timestep by the DDIM ODE run forwards
// (deterministic, η = 0) over the plan's timesteps in reverse. Each step evaluates the model at the
// timestep it moves to and then, `refine` times, again at its own result (fixed-point iteration of
// the implicit step, which is what makes decoding the latents give x0 back).
// The fixed-point iterations `ddpm invert` and `sample --interpolate` run unless told.
inline constexpr int64_t kDefaultInversionRefine = 2;
torch::Tensor invert_ddim(const GaussianDiffusion& diffusion, const Denoiser& denoiser,
                          const SamplingPlan& plan, const torch::Tensor& x0, int64_t refine);

// Spherical interpolation of a and b (any shape, as flat vectors) at w in [0, 1]; linear where they
// are nearly parallel.
torch::Tensor slerp(const torch::Tensor& a, const torch::Tensor& b, double w);

}  // namespace ddpm
