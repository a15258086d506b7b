// EDM's sampler (Karras et al. 2022, Algorithm 2) over a DDPM model's discrete timesteps.
#include <algorithm>
#include <cmath>

#include "ddpm/sampling/samplers.h"

namespace ddpm {

torch::Tensor sample_heun(const GaussianDiffusion& diffusion, const Denoiser& denoiser,
                          const SamplingPlan& plan, NoiseStream& noise,
                          const SamplerOptions& options) {
  const auto sigmas = sigma_table(diffusion);
  const int64_t n = plan.size();
  // D(x̃; σ_t): the denoised image for x̃ = x_t/√ᾱ_t, from the model at x_t = x̃/√(1 + σ_t²).
  auto denoised = [&](const torch::Tensor& xv, int64_t t) {
    auto tt = timestep_batch(t, xv);
    auto xt = xv / std::sqrt(1.0 + sigmas[t] * sigmas[t]);
    auto x0 = diffusion.denoise(denoiser(xt, tt), xt, tt).x0;
    return options.clip_denoised ? x0.clamp(-1.0, 1.0) : x0;
  };
  // x_T ~ N(0, I) (or the given start) in the variance-preserving variable, as every other sampler
  // starts.
  auto x = start_state(noise, options) * std::sqrt(1.0 + plan.sigma[0] * plan.sigma[0]);
  const double gamma_max = std::min(options.churn / static_cast<double>(n), std::sqrt(2.0) - 1.0);
  auto step = [&](int64_t i) {
    int64_t t = plan.timesteps[i];
    double sigma = plan.sigma[i];
    // Churn: raise the noise to σ̂ = σ (1 + γ), snapped to a timestep, by adding fresh noise.
    if (gamma_max > 0 && sigma >= 0.05 && sigma <= 50) {
      const int64_t t_hat =
          std::max(t, nearest_timestep(sigmas, static_cast<int64_t>(sigmas.size()) - 1,
                                       sigma * (1 + gamma_max)));
      const double sigma_hat = sigmas[t_hat];
      if (t_hat > t) x = x + std::sqrt(sigma_hat * sigma_hat - sigma * sigma) * noise.next();
      t = t_hat;
      sigma = sigma_hat;
    }
    auto d = (x - denoised(x, t)) / sigma;  // dx̃/dσ of the probability-flow ODE (eq. 3)
    if (i + 1 == n) {
      x = x - sigma * d;  // Euler to σ = 0 lands on D(x̃; σ)
    } else {
      const double sigma_next = plan.sigma[i + 1];
      auto x_next = x + (sigma_next - sigma) * d;
      auto d_next = (x_next - denoised(x_next, plan.timesteps[i + 1])) / sigma_next;  // Heun
      x = x + (sigma_next - sigma) * 0.5 * (d + d_next);
    }
  };
  // Back up from level i + 1 to i: x̃ gains noise of variance σ_i² − σ_{i+1}² (the forward process
  // in x̃ = x/√ᾱ).
  auto up = [&](int64_t i) {
    x = x + std::sqrt(plan.sigma[i] * plan.sigma[i] - plan.sigma[i + 1] * plan.sigma[i + 1]) *
                noise.next();
  };
  walk_plan(n, options, step, up);
  return x;
}

}  // namespace ddpm
