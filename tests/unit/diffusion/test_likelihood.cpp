#include <gtest/gtest.h>

#include <cmath>

#include "ddpm/diffusion/likelihood.h"

namespace ddpm {
namespace {

torch::Tensor all_levels() {  // the 256 data values in [-1, 1]
  return torch::arange(256, torch::kFloat64) / 127.5 - 1.0;
}

TEST(Likelihood, DiscretizedGaussianSumsToOneOverAllBins) {
  auto x = all_levels();
  for (double mean : {-1.2, -0.3, 0.0, 0.9}) {
    for (double log_scale : {-6.0, -3.0, -1.0, 0.5}) {
      auto lp = discretized_gaussian_log_likelihood(x, torch::full_like(x, mean),
                                                    torch::full_like(x, log_scale));
      EXPECT_NEAR(lp.exp().sum().item<double>(), 1.0, 1e-6) << mean << " " << log_scale;
    }
  }
}

TEST(Likelihood, DiscretizedGaussianMatchesTheCdfDifference) {
  const double mean = 0.1, sigma = 0.05, x = 0.12156862745098039;  // level 143
  auto lp = discretized_gaussian_log_likelihood(torch::tensor({x}, torch::kFloat64),
                                                torch::tensor({mean}, torch::kFloat64),
                                                torch::tensor({std::log(sigma)}, torch::kFloat64));
  auto phi = [](double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); };
  const double expected =
      std::log(phi((x + 1 / 255.0 - mean) / sigma) - phi((x - 1 / 255.0 - mean) / sigma));
  EXPECT_NEAR(lp.item<double>(), expected, 1e-9);
}

TEST(Likelihood, GaussianKlMatchesTheClosedForm) {
  const double m1 = 0.3, s1 = 0.5, m2 = -0.2, s2 = 1.7;
  auto kl = normal_kl(
      torch::tensor({m1}, torch::kFloat64), torch::tensor({2 * std::log(s1)}, torch::kFloat64),
      torch::tensor({m2}, torch::kFloat64), torch::tensor({2 * std::log(s2)}, torch::kFloat64));
  const double expected =
      std::log(s2 / s1) + (s1 * s1 + (m1 - m2) * (m1 - m2)) / (2 * s2 * s2) - 0.5;
  EXPECT_NEAR(kl.item<double>(), expected, 1e-12);
  auto same = normal_kl(torch::tensor({m1}), torch::tensor({0.4}), torch::tensor({m1}),
                        torch::tensor({0.4}));
  EXPECT_NEAR(same.item<double>(), 0.0, 1e-7);
}

// Data: N(μ, s²) quantized to the 256-level grid, denoised by the oracle ε-predictor of the
// continuous Gaussian. Then μ_θ − μ_q = coef1_t (E[x0|x_t] − x0), so each middle term has the
// closed-form expectation E[L_{t−1}] = coef1_t² Var(x0|x_t) / (2 β̃_t) nats with Var(x0|x_t) =
// s²(1−ᾱ_t)/(ᾱ_t s² + 1 − ᾱ_t).
TEST(Likelihood, OracleBoundMatchesItsClosedFormAndBoundsTheTrueNll) {
  const double mu = 0.1, s = 0.3;
  torch::manual_seed(7);
  auto continuous = (torch::randn({16, 1, 8, 8}) * s + mu).clamp(-1, 1);
  auto x0 = torch::round((continuous + 1) * 127.5) / 127.5 - 1;  // on the grid
  GaussianDiffusion d(DiffusionConfig{});
  Denoiser oracle = [&](const torch::Tensor& x, const torch::Tensor& t) {
    auto ab = d.table().alphas_cumprod.index_select(0, t).view({-1, 1, 1, 1});
    return torch::sqrt(1 - ab) * (x - torch::sqrt(ab) * mu) / (ab * s * s + 1 - ab);
  };
  auto bound = variational_bound(d, oracle, x0, 0, 1);
  ASSERT_EQ(bound.terms.size(1), 999);
  const auto& tab = d.table64();
  double closed_form_middle = 0;
  for (int64_t t = 1; t < 1000; ++t) {
    const double ab = tab.alphas_cumprod[t].item<double>();
    const double c1 = tab.posterior_mean_coef1[t].item<double>();
    const double expected = c1 * c1 * (s * s * (1 - ab) / (ab * s * s + 1 - ab)) /
                            (2 * tab.posterior_variance[t].item<double>()) / std::log(2.0);
    closed_form_middle += expected;
    if (t == 1 || t == 10 || t == 100) {
      // Each term is an average of 1024 χ²-like draws: relative standard error ≈ √(2/1024) ≈ 4.4%.
      EXPECT_NEAR(bound.terms.select(1, t - 1).mean().item<double>(), expected, 0.2 * expected)
          << t;
    }
  }
  EXPECT_NEAR(bound.middle().mean().item<double>(), closed_form_middle, 0.05 * closed_form_middle);
  // True NLL in bits/dim: −log2 P(bin) with the edge bins open.
  auto phi = [](const torch::Tensor& z) { return 0.5 * (1 + torch::erf(z / std::sqrt(2.0))); };
  auto x = x0.to(torch::kFloat64);
  auto upper = torch::where(x > 0.999, torch::ones_like(x), phi((x + 1 / 255.0 - mu) / s));
  auto lower = torch::where(x < -0.999, torch::zeros_like(x), phi((x - 1 / 255.0 - mu) / s));
  const double nll = (-torch::log2(upper - lower)).mean().item<double>();
  const double total = bound.total().mean().item<double>();
  // ≈ log2(127.5 · s · √(2πe)) ≈ 7.3 bits for s = 0.3 (entropy minus log bin width): a sanity
  // check.
  EXPECT_NEAR(nll, std::log2(127.5 * s * std::sqrt(2 * M_PI * M_E)), 0.1);
  // A bound; with fixed variances β̃_t it is loose by the closed-form excess of the first few terms
  // (L_1 alone is 0.86 bits here), so it lies within 1 bit/dim above the true NLL.
  EXPECT_GT(total, nll);
  EXPECT_LT(total, nll + 1.0);
  EXPECT_LT(bound.prior.mean().item<double>(), 1e-3);  // x_T is almost exactly N(0, I)
  // 50 quadratically spaced strata estimate the same sum.
  auto estimate = variational_bound(d, oracle, x0, 50, 1);
  EXPECT_NEAR(estimate.total().mean().item<double>(), total, 0.05 * total);
  // A useless denoiser (always ε = 0) is far worse.
  Denoiser zero = [](const torch::Tensor& x, const torch::Tensor&) { return torch::zeros_like(x); };
  EXPECT_GT(variational_bound(d, zero, x0, 50, 1).total().mean().item<double>(), total + 1.0);
}

}  // namespace
}  // namespace ddpm
