// What a sampler visits: its timesteps with their ᾱ, σ and λ, read once from the schedule's tables
// (diffusion/schedule.h) for the sampler, step count and spacing asked for. Every sampler runs
// over a plan; none computes a noise level of its own.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ddpm/base/choices.h"
#include "ddpm/diffusion/diffusion.h"

namespace ddpm {

// Called after each sampler step with (steps done, total steps).
using Progress = std::function<void(int64_t, int64_t)>;

// Each sampler's defaults, beside its name (base/choices.h): the steps when none are asked for
// (0: all T timesteps), and the spacing that `Spacing::automatic` stands for.
struct SamplerDefaults {
  Sampler sampler;
  int64_t steps;
  Spacing spacing;
};
inline constexpr SamplerDefaults kSamplerDefaults[] = {
    {Sampler::ddpm, 0, Spacing::uniform},
    {Sampler::ddim, 50, Spacing::uniform},
    {Sampler::dpmpp2m, 20, Spacing::logsnr},
    // EDM's CIFAR-10 setting; its levels are spaced with ρ = 7 (Karras et al. 2022, eq. 5).
    {Sampler::heun, 18, Spacing::automatic},
};
const SamplerDefaults& sampler_defaults(Sampler sampler);
// "50 ddim / 20 dpmpp2m / 18 heun": the defaults, for the --steps help.
std::string default_steps_text();

struct SamplerOptions {
  Sampler sampler = Sampler::ddpm;
  int64_t steps = 0;                     // 0: the sampler's default (kSamplerDefaults)
  double eta = 0.0;                      // ddim: 0 deterministic, 1 ≈ ancestral
  double churn = 0.0;                    // heun: S_churn (0 deterministic)
  Spacing spacing = Spacing::automatic;  // ddim, dpmpp2m: automatic is the sampler's default
  bool clip_denoised = true;
  // x at the plan's first timestep, instead of x_T ~ N(0, I) drawn from the noise stream: a noised
  // input (image-to-image, inpainting) or inverted latents (sampling/editing.h).
  torch::Tensor start;
  // RePaint's resampling, for every sampler (sampling/editing.h, repaint_path): after every
  // `resample_length` steps of the plan, back up as many by the forward process and down again,
  // `resample_jumps` − 1 times. 1: none.
  int64_t resample_jumps = 1;
  int64_t resample_length = 10;
  Progress progress;
};

struct SamplingPlan {
  std::vector<int64_t> timesteps;  // in the order visited: descending t
  std::vector<double> alpha_bar;   // ᾱ at each
  std::vector<double> sigma;       // σ = √((1 − ᾱ)/ᾱ) at each
  std::vector<double> lambda;      // λ = log(√ᾱ/√(1 − ᾱ)) at each
  int64_t size() const { return static_cast<int64_t>(timesteps.size()); }
};

// The plan `options` imply on `diffusion`: ddpm all T timesteps; ddim and dpmpp2m `steps`
// timesteps spaced as asked within [0, deterministic_start]; heun `steps` σ levels with ρ = 7.
SamplingPlan make_plan(const GaussianDiffusion& diffusion, const SamplerOptions& options);

// The steps the options ask for, or the sampler's default (at most T).
int64_t resolved_steps(const SamplerOptions& options, int64_t timesteps);
// Network evaluations per image: T for ddpm, 2·levels − 1 for heun, the steps otherwise.
int64_t sampler_steps(const SamplerOptions& options, int64_t timesteps);

// The highest timestep the few-step samplers (ddim, dpmpp2m, heun) start from: the largest t with
// σ_t ≤ 80, EDM's σ_max. Above it an ε-model's x̂0 = (x_t − σ ε̂)/α carries its error times up to
// 3·10⁴ (cosine's clipped tail), which a deterministic solver integrates into the image as colour
// speckle. Ancestral sampling keeps all T steps: its posterior mean weights x̂0 by
// √ᾱ_{t−1} β_t/(1 − ᾱ_t), which is small there.
int64_t deterministic_start(const GaussianDiffusion& diffusion);
// The DDIM timestep subsequence: ascending, unique, within [0, T−1], uniform or quadratic in t.
std::vector<int64_t> ddim_timesteps(int64_t T, int64_t steps, Spacing spacing);
// The timesteps a few-step sampler visits, ascending and unique, within [0, deterministic_start]:
// "uniform"/"quadratic" in t, or "logsnr", evenly spaced in λ (what DPM-Solver needs; uniform t
// puts its largest λ step last and loses the second order there).
std::vector<int64_t> sampler_timesteps(const GaussianDiffusion& diffusion, int64_t steps,
                                       Spacing spacing);
// EDM's noise levels (Karras et al. 2022, eq. 5) snapped to the model's discrete timesteps, as
// k-diffusion does for DDPM-trained models: descending and unique, from deterministic_start.
std::vector<int64_t> karras_timesteps(const GaussianDiffusion& diffusion, int64_t steps,
                                      double rho);
// σ_t for every timestep (the schedule table's `sigmas`), and the timestep in [0, top] whose σ is
// nearest to `sigma` in log σ (σ_t increases with t).
std::vector<double> sigma_table(const GaussianDiffusion& diffusion);
int64_t nearest_timestep(const std::vector<double>& sigmas, int64_t top, double sigma);

}  // namespace ddpm
