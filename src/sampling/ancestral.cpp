// Ancestral sampling (Ho et al. 2020, Algorithm 2) over every timestep of the plan.
#include "ddpm/sampling/samplers.h"

namespace ddpm {

torch::Tensor ancestral_step(const GaussianDiffusion& diffusion, const Denoiser& denoiser,
                             const torch::Tensor& x, int64_t t, NoiseStream& noise,
                             bool clip_denoised) {
  auto tt = timestep_batch(t, x);
  auto p = diffusion.p_mean_variance(denoiser(x, tt), x, tt, clip_denoised);
  return t > 0 ? p.mean + torch::exp(0.5 * p.log_variance) * noise.next() : p.mean;
}

torch::Tensor sample_ddpm(const GaussianDiffusion& diffusion, const Denoiser& denoiser,
                          const SamplingPlan& plan, NoiseStream& noise,
                          const SamplerOptions& options) {
  auto x = start_state(noise, options);  // x_T ~ N(0, I)
  auto step = [&](int64_t i) {
    x = ancestral_step(diffusion, denoiser, x, plan.timesteps[i], noise, options.clip_denoised);
  };
  walk_plan(plan.size(), options, step, [&](int64_t i) { x = renoise(plan, x, i, noise); });
  return x;
}

}  // namespace ddpm
