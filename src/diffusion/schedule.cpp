#include "ddpm/diffusion/schedule.h"

#include <algorithm>
#include <cmath>

#include "ddpm/base/error.h"

namespace ddpm {

std::vector<double> linear_betas(int64_t timesteps, double beta_start, double beta_end) {
  std::vector<double> betas(timesteps);
  for (int64_t i = 0; i < timesteps; ++i) {
    betas[i] = timesteps == 1 ? beta_start
                              : beta_start + (beta_end - beta_start) * static_cast<double>(i) /
                                                 static_cast<double>(timesteps - 1);
  }
  return betas;
}

std::vector<double> cosine_betas(int64_t timesteps, double s, double max_beta) {
  const double pi = std::acos(-1.0);
  auto f = [&](double t) {
    double c = std::cos((t / static_cast<double>(timesteps) + s) / (1.0 + s) * pi / 2.0);
    return c * c;
  };
  std::vector<double> betas(timesteps);
  for (int64_t i = 0; i < timesteps; ++i) {
    betas[i] = std::min(1.0 - f(i + 1.0) / f(static_cast<double>(i)), max_beta);
  }
  return betas;
}

std::vector<double> make_betas(const DiffusionConfig& config) {
  if (config.schedule == Schedule::cosine) return cosine_betas(config.timesteps, config.cosine_s);
  return linear_betas(config.timesteps, config.beta_start, config.beta_end);
}

ScheduleTable make_schedule_table(const std::vector<double>& betas_in) {
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  const int64_t T = static_cast<int64_t>(betas_in.size());
  ScheduleTable s;
  s.betas = torch::from_blob(const_cast<double*>(betas_in.data()), {T}, f64).clone();
  s.alphas = 1.0 - s.betas;
  s.alphas_cumprod = torch::cumprod(s.alphas, 0);
  s.alphas_cumprod_prev = torch::cat({torch::ones({1}, f64), s.alphas_cumprod.slice(0, 0, T - 1)});
  s.sqrt_alphas_cumprod = torch::sqrt(s.alphas_cumprod);
  s.sqrt_one_minus_alphas_cumprod = torch::sqrt(1.0 - s.alphas_cumprod);
  s.sqrt_recip_alphas_cumprod = torch::rsqrt(s.alphas_cumprod);
  s.sqrt_recipm1_alphas_cumprod = torch::sqrt(1.0 / s.alphas_cumprod - 1.0);
  s.sigmas = torch::sqrt((1.0 - s.alphas_cumprod) / s.alphas_cumprod);
  // With the C library's log, element by element: the samplers' steps in λ are defined on it.
  s.lambdas = torch::empty({T}, f64);
  const double* alpha = s.sqrt_alphas_cumprod.data_ptr<double>();
  const double* sigma = s.sqrt_one_minus_alphas_cumprod.data_ptr<double>();
  double* lambda = s.lambdas.data_ptr<double>();
  for (int64_t t = 0; t < T; ++t) lambda[t] = std::log(alpha[t] / sigma[t]);
  // Ho et al. 2020, eq. 7.
  s.posterior_variance = s.betas * (1.0 - s.alphas_cumprod_prev) / (1.0 - s.alphas_cumprod);
  // β̃_0 = 0; the log is clipped by using β̃_1 there, as in the original implementation.
  auto clipped = s.posterior_variance.clone();
  if (T > 1)
    clipped[0] = s.posterior_variance[1];
  else
    clipped[0] = s.betas[0];
  s.posterior_log_variance_clipped = torch::log(clipped);
  s.posterior_mean_coef1 = s.betas * torch::sqrt(s.alphas_cumprod_prev) / (1.0 - s.alphas_cumprod);
  s.posterior_mean_coef2 =
      (1.0 - s.alphas_cumprod_prev) * torch::sqrt(s.alphas) / (1.0 - s.alphas_cumprod);
  return s;
}

ScheduleTable ScheduleTable::to(torch::Device device, torch::ScalarType dtype) const {
  auto cast = [&](const torch::Tensor& x) { return x.to(device, dtype); };
  return {cast(betas),
          cast(alphas),
          cast(alphas_cumprod),
          cast(alphas_cumprod_prev),
          cast(sqrt_alphas_cumprod),
          cast(sqrt_one_minus_alphas_cumprod),
          cast(sqrt_recip_alphas_cumprod),
          cast(sqrt_recipm1_alphas_cumprod),
          cast(sigmas),
          cast(lambdas),
          cast(posterior_variance),
          cast(posterior_log_variance_clipped),
          cast(posterior_mean_coef1),
          cast(posterior_mean_coef2)};
}

}  // namespace ddpm
