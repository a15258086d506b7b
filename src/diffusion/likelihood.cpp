#include "ddpm/diffusion/likelihood.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

namespace ddpm {

namespace {
const double kLn2 = std::log(2.0);

torch::Tensor standard_normal_cdf(const torch::Tensor& x) {
  return 0.5 * (1.0 + torch::erf(x / std::sqrt(2.0)));
}

torch::Tensor mean_over_dims(const torch::Tensor& x) { return x.flatten(1).mean(1); }  // [B]
}  // namespace

torch::Tensor normal_kl(const torch::Tensor& mean1, const torch::Tensor& logvar1,
                        const torch::Tensor& mean2, const torch::Tensor& logvar2) {
  return 0.5 * (-1.0 + logvar2 - logvar1 + torch::exp(logvar1 - logvar2) +
                (mean1 - mean2).square() * torch::exp(-logvar2));
}

torch::Tensor discretized_gaussian_log_likelihood(const torch::Tensor& x, const torch::Tensor& mean,
                                                  const torch::Tensor& log_scale) {
  const double half_bin = 1.0 / 255.0;
  auto centered = x - mean;
  auto inv_std = torch::exp(-log_scale);
  auto cdf_plus = standard_normal_cdf(inv_std * (centered + half_bin));
  auto cdf_min = standard_normal_cdf(inv_std * (centered - half_bin));
  auto log_cdf_plus = torch::log(cdf_plus.clamp_min(1e-12));  // left edge bin: (−∞, b]
  auto log_one_minus_cdf_min = torch::log((1.0 - cdf_min).clamp_min(1e-12));  // right edge: [a, ∞)
  auto log_delta = torch::log((cdf_plus - cdf_min).clamp_min(1e-12));
  return torch::where(x < -0.999, log_cdf_plus,
                      torch::where(x > 0.999, log_one_minus_cdf_min, log_delta));
}

torch::Tensor BoundTerms::middle() const {
  if (timesteps.empty()) return torch::zeros_like(prior);
  auto w = torch::tensor(weights, torch::kFloat64).to(terms.device(), terms.scalar_type());
  return (terms * w.unsqueeze(0)).sum(1);  // [B]
}

torch::Tensor BoundTerms::total() const { return prior + decoder + middle(); }

BoundTerms variational_bound(const GaussianDiffusion& diffusion, const Denoiser& denoiser,
                             const torch::Tensor& x0, int64_t subset, uint64_t noise_seed,
                             const std::function<void(int64_t, int64_t)>& progress) {
  const int64_t T = diffusion.timesteps();
  const int64_t B = x0.size(0);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(noise_seed);
  auto draw = [&] { return torch::randn(x0.sizes(), gen, torch::kFloat32).to(x0.device()); };
  auto t_batch = [&](int64_t t) { return timestep_batch(t, x0); };
  BoundTerms out;
  // L_T = KL(q(x_T | x0) ‖ N(0, I)).
  auto q_T = diffusion.q_mean_variance(x0, t_batch(T - 1));
  out.prior = mean_over_dims(normal_kl(q_T.mean, q_T.log_variance, torch::zeros_like(x0),
                                       torch::zeros_like(x0))) /
              kLn2;
  // Middle terms: timesteps 1..T−1 (0-based), each KL(q(x_{t−1}|x_t, x0) ‖ p_θ(x_{t−1}|x_t)).
  std::vector<int64_t> ts;
  const int64_t middle = T - 1;
  if (subset <= 0 || subset >= middle) {
    for (int64_t t = 1; t < T; ++t) {
      ts.push_back(t);
      out.weights.push_back(1.0);
    }
  } else {
    int64_t previous = 1;
    for (int64_t i = 1; i <= subset; ++i) {
      const double frac = static_cast<double>(i) / static_cast<double>(subset);
      const int64_t edge =
          std::max(previous + 1, 1 + static_cast<int64_t>(std::llround(frac * frac * middle)));
      const int64_t end = std::min(edge, T);  // stratum [previous, end)
      if (end <= previous) break;
      ts.push_back((previous + end - 1) / 2);
      out.weights.push_back(static_cast<double>(end - previous));
      previous = end;
    }
  }
  out.timesteps = ts;
  std::vector<torch::Tensor> terms;
  const int64_t total_steps = static_cast<int64_t>(ts.size()) + 1;
  for (size_t i = 0; i < ts.size(); ++i) {
    auto t = t_batch(ts[i]);
    auto x_t = diffusion.q_sample(x0, t, draw());
    auto q = diffusion.q_posterior(x0, x_t, t);
    auto p = diffusion.p_mean_variance(denoiser(x_t, t), x_t, t, /*clip=*/false);
    terms.push_back(mean_over_dims(normal_kl(q.mean, q.log_variance, p.mean, p.log_variance)) /
                    kLn2);
    if (progress) progress(static_cast<int64_t>(i) + 1, total_steps);
  }
  out.terms = terms.empty() ? torch::zeros({B, 0}) : torch::stack(terms, 1);  // [B, K]
  // L_0 = −log p_θ(x0 | x_1) with the discretized Gaussian decoder.
  auto t0 = t_batch(0);
  auto x_1 = diffusion.q_sample(x0, t0, draw());
  auto p0 = diffusion.p_mean_variance(denoiser(x_1, t0), x_1, t0, false);
  out.decoder =
      -mean_over_dims(discretized_gaussian_log_likelihood(x0, p0.mean, 0.5 * p0.log_variance)) /
      kLn2;
  if (progress) progress(total_steps, total_steps);
  return out;
}

}  // namespace ddpm
