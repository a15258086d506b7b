// Reverse-process samplers as free functions over a denoiser callback; they know nothing of the
// UNet.
#pragma once
#include <ATen/core/Generator.h>
#include <torch/types.h>

#include <functional>
#include <string>
#include <vector>

#include "ddpm/diffusion/denoiser.h"
#include "ddpm/diffusion/diffusion.h"

namespace ddpm {

// Called after each sampler step with (steps done, total steps).
using Progress = std::function<void(int64_t, int64_t)>;

// Gaussian noise where image i's draws come from its own generator seeded with seeds[i]: how images
// are grouped into batches never changes what any one of them sees.
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

struct SamplerOptions {
  Sampler sampler = Sampler::ddpm;
  int64_t steps = 0;   // ddim: steps (0 = 50); dpmpp2m: steps (0 = 20); ddpm: all T
  double eta = 0.0;    // ddim: 0 deterministic, 1 ≈ ancestral
  double churn = 0.0;  // heun: S_churn (0 deterministic)
  Spacing spacing = Spacing::automatic;  // automatic: ddim uniform, dpmpp2m logsnr
  bool clip_denoised = true;
  Progress progress;
};

// The options a config's sample section sets (sampler, steps, eta, churn, clipping).
SamplerOptions sampler_options(const SampleConfig& sample);

// Ancestral sampling, Ho et al. 2020 Algorithm 2: x_{t−1} = μ_θ(x_t, t) + σ_t z (z = 0 at t = 0).
torch::Tensor sample_ddpm(const GaussianDiffusion& diffusion, const Denoiser& denoiser,
                          NoiseStream& noise, bool clip_denoised, const Progress& progress = {});

// One step of it: x_t → x_{t−1} (what `ddpm bench` times as a sampling step).
torch::Tensor ancestral_step(const GaussianDiffusion& diffusion, const Denoiser& denoiser,
                             const torch::Tensor& x, int64_t t, NoiseStream& noise,
                             bool clip_denoised);

// DDIM (Song et al. 2021, eq. 12) over a subsequence of timesteps.
torch::Tensor sample_ddim(const GaussianDiffusion& diffusion, const Denoiser& denoiser,
                          NoiseStream& noise, int64_t steps, double eta, Spacing spacing,
                          bool clip_denoised, const Progress& progress = {});

// DPM-Solver++(2M) (Lu et al. 2022b): second-order multistep solver of the probability-flow ODE in
// data prediction, stepping in λ = log(α/σ). One network evaluation per step; the last step is
// first order and lands on x̂_0. 15–25 steps match DDIM at 50–100.
torch::Tensor sample_dpmpp_2m(const GaussianDiffusion& diffusion, const Denoiser& denoiser,
                              NoiseStream& noise, int64_t steps, Spacing spacing,
                              bool clip_denoised, const Progress& progress = {});

// EDM's sampler (Karras et al. 2022, Algorithm 2): Heun's second-order method on the
// probability-flow ODE in σ = √((1 − ᾱ)/ᾱ), over `steps` noise levels spaced with ρ = 7 (eq. 5) and
// snapped to the model's discrete timesteps, as k-diffusion does for DDPM-trained models; 2·steps −
// 1 network evaluations. churn > 0 is S_churn: fresh noise raises each σ in [0.05, 50] by γ =
// min(churn/steps, √2 − 1) before the step.
torch::Tensor sample_heun(const GaussianDiffusion& diffusion, const Denoiser& denoiser,
                          NoiseStream& noise, int64_t steps, double churn, bool clip_denoised,
                          const Progress& progress = {});
// Its timesteps, descending and unique.
std::vector<int64_t> karras_timesteps(const GaussianDiffusion& diffusion, int64_t steps,
                                      double rho);

torch::Tensor run_sampler(const GaussianDiffusion& diffusion, const Denoiser& denoiser,
                          NoiseStream& noise, const SamplerOptions& options);

// Network evaluations per image the options imply: T for ddpm, steps (or its default) otherwise.
int64_t sampler_steps(const SamplerOptions& options, int64_t timesteps);
// heun: the noise levels the options imply (steps, or 18 as in EDM's CIFAR-10 setting).
int64_t heun_levels(const SamplerOptions& options, int64_t timesteps);

// The timesteps a few-step sampler visits, ascending and unique, within [0, deterministic_start]:
// "uniform"/"quadratic" in t, or
// "logsnr", evenly spaced in λ = log(α/σ) (what DPM-Solver needs; uniform t puts its largest λ step
// last and loses the second order there).
std::vector<int64_t> sampler_timesteps(const GaussianDiffusion& diffusion, int64_t steps,
                                       Spacing spacing);

// The highest timestep the few-step samplers (ddim, dpmpp2m, heun) start from: the largest t with
// σ_t = √((1 − ᾱ_t)/ᾱ_t) ≤ 80, EDM's σ_max. Above it an ε-model's x̂0 = (x_t − σ ε̂)/α carries its
// error times up to 3·10⁴ (cosine's clipped tail), which a deterministic solver integrates into the
// image as colour speckle. Ancestral sampling keeps all T steps: its posterior mean weights x̂0 by
// √ᾱ_{t−1} β_t/(1 − ᾱ_t), which is small there.
int64_t deterministic_start(const GaussianDiffusion& diffusion);

// The DDIM timestep subsequence, descending order not applied: ascending, unique, within [0, T−1].
std::vector<int64_t> ddim_timesteps(int64_t T, int64_t steps, Spacing spacing);

// Classifier-free guidance (Ho & Salimans 2022): ε̃ = (1 + w)·ε(x, c) − w·ε(x, ∅). Conditional and
// unconditional passes run as one batch. Applied to the model output, which is affine in ε for
// every objective, so it is the same rule for ε, x0 and v models.
// `guided` (bool [T], optional) limits guidance to the timesteps where it is true; elsewhere the
// conditional output alone is used, and the unconditional pass is skipped.
Denoiser classifier_free_guidance(ConditionalDenoiser model, torch::Tensor labels,
                                  int64_t null_class, double guidance, torch::Tensor guided = {});

// Guidance in a limited interval (Kynkäänniemi et al. 2024): the timesteps whose noise level
// σ_t = √((1 − ᾱ_t)/ᾱ_t) lies in [sigma_min, sigma_max], as a bool [T] mask.
torch::Tensor guidance_timesteps(const GaussianDiffusion& diffusion, double sigma_min,
                                 double sigma_max);

}  // namespace ddpm
