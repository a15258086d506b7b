// EDM sampler (Karras et al. 2022, Algorithm 2) over a DDPM model's discrete timesteps.
#include <algorithm>
#include <cmath>

#include "ddpm/sampling/samplers.h"

namespace ddpm {

namespace {

// σ_t = √((1 − ᾱ_t)/ᾱ_t): the noise level of the variance-exploding variable x̃ = x_t/√ᾱ_t.
std::vector<double> discrete_sigmas(const GaussianDiffusion& diffusion) {
  auto ab = diffusion.table64().alphas_cumprod;
  auto sigmas = torch::sqrt((1.0 - ab) / ab);
  return std::vector<double>(sigmas.data_ptr<double>(), sigmas.data_ptr<double>() + sigmas.numel());
}

// The timestep in [0, top] whose σ is nearest to `sigma` in log σ (σ_t increases with t).
int64_t nearest_timestep(const std::vector<double>& sigmas, int64_t top, double sigma) {
  auto end = sigmas.begin() + top + 1;
  auto it = std::lower_bound(sigmas.begin(), end, sigma);
  if (it == end) return top;
  if (it == sigmas.begin()) return 0;
  const int64_t hi = it - sigmas.begin();
  return std::log(sigma / sigmas[hi - 1]) < std::log(sigmas[hi] / sigma) ? hi - 1 : hi;
}

}  // namespace

std::vector<int64_t> karras_timesteps(const GaussianDiffusion& diffusion, int64_t steps,
                                      double rho) {
  const auto sigmas = discrete_sigmas(diffusion);
  const int64_t top = deterministic_start(diffusion);
  const double lo = std::pow(sigmas[0], 1.0 / rho), hi = std::pow(sigmas[top], 1.0 / rho);
  std::vector<int64_t> ts;
  for (int64_t i = 0; i < steps; ++i) {
    const double frac = steps == 1 ? 0.0 : static_cast<double>(i) / static_cast<double>(steps - 1);
    // σ_i = (σ_max^{1/ρ} + i/(N−1) (σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ  (Karras et al. 2022, eq. 5)
    ts.push_back(nearest_timestep(sigmas, top, std::pow(hi + frac * (lo - hi), rho)));
  }
  ts.erase(std::unique(ts.begin(), ts.end()), ts.end());
  return ts;  // descending
}

torch::Tensor sample_heun(const GaussianDiffusion& diffusion, const Denoiser& denoiser,
                          NoiseStream& noise, int64_t steps, double churn, bool clip_denoised,
                          const Progress& progress) {
  const auto sigmas = discrete_sigmas(diffusion);
  const auto ts = karras_timesteps(diffusion, steps, 7.0);
  const int64_t n = static_cast<int64_t>(ts.size());
  const int64_t top = ts.front();
  // D(x̃; σ_t): the denoised image for x̃ = x_t/√ᾱ_t, from the model at x_t = x̃/√(1 + σ_t²).
  auto denoised = [&](const torch::Tensor& xv, int64_t t) {
    auto tt = timestep_batch(t, xv);
    auto xt = xv / std::sqrt(1.0 + sigmas[t] * sigmas[t]);
    auto x0 = diffusion.denoise(denoiser(xt, tt), xt, tt).x0;
    return clip_denoised ? x0.clamp(-1.0, 1.0) : x0;
  };
  // x_T ~ N(0, I) in the variance-preserving variable, as every other sampler starts.
  auto x = noise.next() * std::sqrt(1.0 + sigmas[top] * sigmas[top]);
  const double gamma_max = std::min(churn / static_cast<double>(n), std::sqrt(2.0) - 1.0);
  for (int64_t i = 0; i < n; ++i) {
    int64_t t = ts[i];
    double sigma = sigmas[t];
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
      const int64_t t_next = ts[i + 1];
      const double sigma_next = sigmas[t_next];
      auto x_next = x + (sigma_next - sigma) * d;
      auto d_next = (x_next - denoised(x_next, t_next)) / sigma_next;  // Heun's correction
      x = x + (sigma_next - sigma) * 0.5 * (d + d_next);
    }
    if (progress) progress(i + 1, n);
  }
  return x;
}

}  // namespace ddpm
