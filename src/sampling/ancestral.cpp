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
  auto x = noise.next();  // x_T ~ N(0, I)
  const int64_t n = plan.size();
  for (int64_t i = 0; i < n; ++i) {
    x = ancestral_step(diffusion, denoiser, x, plan.timesteps[i], noise, options.clip_denoised);
    if (options.progress) options.progress(i + 1, n);
  }
  return x;
}

}  // namespace ddpm
