// Reverse-process samplers as free functions over a denoiser callback and a plan; they know nothing
// of the UNet. Every sampler has one signature (SamplerFn): x_T drawn from `noise`, then one update
// per planned timestep, to x_0.
#pragma once
#include <torch/types.h>

#include <functional>

#include "ddpm/config/config.h"
#include "ddpm/diffusion/denoiser.h"
#include "ddpm/diffusion/diffusion.h"
#include "ddpm/sampling/noise.h"
#include "ddpm/sampling/plan.h"

namespace ddpm {

using SamplerFn = torch::Tensor (*)(const GaussianDiffusion& diffusion, const Denoiser& denoiser,
                                    const SamplingPlan& plan, NoiseStream& noise,
                                    const SamplerOptions& options);

// Ancestral sampling, Ho et al. 2020 Algorithm 2: x_{t−1} = μ_θ(x_t, t) + σ_t z (z = 0 at t = 0).
torch::Tensor sample_ddpm(const GaussianDiffusion& diffusion, const Denoiser& denoiser,
                          const SamplingPlan& plan, NoiseStream& noise,
                          const SamplerOptions& options);
// DDIM (Song et al. 2021, eq. 12) with η = options.eta.
torch::Tensor sample_ddim(const GaussianDiffusion& diffusion, const Denoiser& denoiser,
                          const SamplingPlan& plan, NoiseStream& noise,
                          const SamplerOptions& options);
// DPM-Solver++(2M) (Lu et al. 2022b): second-order multistep solver of the probability-flow ODE in
// data prediction, stepping in λ. One network evaluation per step; the last step is first order
// and lands on x̂_0. 15–25 steps match DDIM at 50–100.
torch::Tensor sample_dpmpp_2m(const GaussianDiffusion& diffusion, const Denoiser& denoiser,
                              const SamplingPlan& plan, NoiseStream& noise,
                              const SamplerOptions& options);
// EDM's sampler (Karras et al. 2022, Algorithm 2): Heun's second-order method on the
// probability-flow ODE in σ over the plan's levels; 2·levels − 1 network evaluations.
// options.churn > 0 is S_churn: fresh noise raises each σ in [0.05, 50] by
// γ = min(churn/levels, √2 − 1) before the step.
torch::Tensor sample_heun(const GaussianDiffusion& diffusion, const Denoiser& denoiser,
                          const SamplingPlan& plan, NoiseStream& noise,
                          const SamplerOptions& options);

// One ancestral step x_t → x_{t−1} (what `ddpm bench` times as a sampling step).
torch::Tensor ancestral_step(const GaussianDiffusion& diffusion, const Denoiser& denoiser,
                             const torch::Tensor& x, int64_t t, NoiseStream& noise,
                             bool clip_denoised);

// Every sampler walks its plan through walk_plan: down(i) steps from plan state i to i + 1 (state
// n: the image). With options.resample_jumps > 1 the walk is RePaint's path (sampling/editing.h,
// repaint_path), and up(i) goes back from state i + 1 to i by the forward process (renoise);
// progress is reported per move.
void walk_plan(int64_t n, const SamplerOptions& options, const std::function<void(int64_t)>& down,
               const std::function<void(int64_t)>& up);
// x at plan state i from x at state i + 1 < n: √(ᾱ_i/ᾱ_{i+1}) x + √(1 − ᾱ_i/ᾱ_{i+1}) z.
torch::Tensor renoise(const SamplingPlan& plan, const torch::Tensor& x, int64_t i,
                      NoiseStream& noise);

// options.start where given, else x_T ~ N(0, I) from the noise stream: where every sampler begins.
torch::Tensor start_state(NoiseStream& noise, const SamplerOptions& options);

// The sampler named by options.sampler.
SamplerFn sampler_function(Sampler sampler);
// Builds the plan for `options` and runs their sampler over it.
torch::Tensor run_sampler(const GaussianDiffusion& diffusion, const Denoiser& denoiser,
                          NoiseStream& noise, const SamplerOptions& options);

// The options a config's sample section sets (sampler, steps, eta, churn, spacing, clipping).
SamplerOptions sampler_options(const SampleConfig& sample);

}  // namespace ddpm
