#include <gtest/gtest.h>

#include <cmath>

#include "ddpm/diffusion/schedule.h"

namespace ddpm {
namespace {

TEST(Schedule, LinearEndpointsAndAlphaBar) {
  auto betas = linear_betas(1000, 1e-4, 0.02);
  ASSERT_EQ(betas.size(), 1000u);
  EXPECT_DOUBLE_EQ(betas.front(), 1e-4);
  EXPECT_DOUBLE_EQ(betas.back(), 0.02);
  for (size_t i = 1; i < betas.size(); ++i) EXPECT_GT(betas[i], betas[i - 1]);
  // ᾱ_T = Π(1 − β_t) computed independently via a sum of logs.
  double log_sum = 0;
  for (double b : betas) log_sum += std::log1p(-b);
  auto table = make_schedule_table(betas);
  const double alpha_bar_T = table.alphas_cumprod[999].item<double>();
  EXPECT_NEAR(alpha_bar_T, std::exp(log_sum), 1e-15);
  EXPECT_NEAR(alpha_bar_T, 4.0e-5, 0.1e-5);  // the well-known value for 1e-4 → 0.02
  EXPECT_EQ(table.alphas_cumprod.scalar_type(), torch::kFloat64);
}

TEST(Schedule, CosineMatchesTheCosSquaredFormula) {
  const int64_t T = 1000;
  const double s = 0.008, pi = std::acos(-1.0);
  auto table = make_schedule_table(cosine_betas(T, s));
  auto f = [&](double t) { return std::pow(std::cos((t / T + s) / (1 + s) * pi / 2), 2); };
  for (int64_t t : {0, 1, 10, 100, 500, 900, 990}) {
    // ᾱ at paper time t+1 is f(t+1)/f(0) while no β has been clipped.
    EXPECT_NEAR(table.alphas_cumprod[t].item<double>(), f(t + 1.0) / f(0), 1e-12) << t;
  }
  auto betas = table.betas;
  EXPECT_LE(betas.max().item<double>(), 0.999);
  EXPECT_DOUBLE_EQ(betas[T - 1].item<double>(), 0.999);  // the last β is clipped
  for (int64_t t = 1; t < T; ++t) {
    EXPECT_LT(table.alphas_cumprod[t].item<double>(), table.alphas_cumprod[t - 1].item<double>());
  }
}

TEST(Schedule, PosteriorVarianceAndCoefficientsMatchTheirFormulas) {
  auto betas = linear_betas(50, 1e-3, 0.1);
  auto s = make_schedule_table(betas);
  double alpha_bar = 1.0;
  for (int64_t t = 0; t < 50; ++t) {
    const double prev = alpha_bar;
    alpha_bar *= 1.0 - betas[t];
    const double beta_tilde = (1 - prev) / (1 - alpha_bar) * betas[t];
    EXPECT_NEAR(s.posterior_variance[t].item<double>(), beta_tilde, 1e-15);
    EXPECT_NEAR(s.posterior_mean_coef1[t].item<double>(),
                betas[t] * std::sqrt(prev) / (1 - alpha_bar), 1e-12);
    EXPECT_NEAR(s.posterior_mean_coef2[t].item<double>(),
                (1 - prev) * std::sqrt(1 - betas[t]) / (1 - alpha_bar), 1e-12);
    EXPECT_NEAR(s.alphas_cumprod_prev[t].item<double>(), prev, 1e-15);
  }
  EXPECT_EQ(s.posterior_variance[0].item<double>(), 0.0);
  EXPECT_DOUBLE_EQ(s.posterior_log_variance_clipped[0].item<double>(),
                   std::log(s.posterior_variance[1].item<double>()));
}

}  // namespace
}  // namespace ddpm
