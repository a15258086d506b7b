// DPM-Solver++(2M) (Lu et al. 2022b, Algorithm 2) over the plan's timesteps, stepping in λ.
#include <cmath>

#include "ddpm/sampling/samplers.h"

namespace ddpm {

torch::Tensor sample_dpmpp_2m(const GaussianDiffusion& diffusion, const Denoiser& denoiser,
                              const SamplingPlan& plan, NoiseStream& noise,
                              const SamplerOptions& options) {
  // α_t = √ᾱ_t and σ_t = √(1 − ᾱ_t) of the variance-preserving x_t; λ_t = log(α_t/σ_t).
  auto alpha = [&](int64_t i) { return std::sqrt(plan.alpha_bar[i]); };
  auto sigma = [&](int64_t i) { return std::sqrt(1.0 - plan.alpha_bar[i]); };
  auto x = start_state(noise, options);
  const int64_t n = plan.size();
  torch::Tensor previous_x0;  // x̂_0 at the step before, for the second-order correction
  double previous_h = 0.0;
  auto step = [&](int64_t i) {
    auto tt = timestep_batch(plan.timesteps[i], x);
    auto x0 = diffusion.denoise(denoiser(x, tt), x, tt).x0;
    if (options.clip_denoised) x0 = x0.clamp(-1.0, 1.0);
    if (i + 1 == n) {
      x = x0;  // the last step lands on the data (σ = 0), where only the first-order update is
               // finite
    } else {
      const double h = plan.lambda[i + 1] - plan.lambda[i];
      // D = (1 + 1/(2r)) x̂_0(t) − 1/(2r) x̂_0(t_prev), r = h_prev/h  (Lu et al. 2022b, Algorithm 2)
      auto d = x0;
      if (previous_x0.defined()) {
        const double r = previous_h / h;
        d = (1.0 + 0.5 / r) * x0 - (0.5 / r) * previous_x0;
      }
      x = (sigma(i + 1) / sigma(i)) * x - alpha(i + 1) * std::expm1(-h) * d;
      previous_x0 = x0;
      previous_h = h;
    }
  };
  // Back up by the forward process, the next step is first order again: the history belongs to the
  // path before.
  auto up = [&](int64_t i) {
    x = renoise(plan, x, i, noise);
    previous_x0 = torch::Tensor();
  };
  walk_plan(n, options, step, up);
  return x;
}

}  // namespace ddpm
