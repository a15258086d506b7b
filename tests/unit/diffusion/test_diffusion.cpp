#include <gtest/gtest.h>

#include "ddpm/diffusion/diffusion.h"
#include "ddpm/diffusion/schedule.h"

namespace ddpm {
namespace {

DiffusionConfig linear_config() {
  DiffusionConfig c;
  c.timesteps = 1000;
  return c;
}

torch::Tensor full_t(int64_t batch, int64_t t) { return torch::full({batch}, t, torch::kLong); }

TEST(Diffusion, QSampleHasTheClosedFormMeanAndVariance) {
  torch::manual_seed(1);
  GaussianDiffusion d(linear_config());
  const int64_t n = 200000;
  for (int64_t t : {0, 250, 999}) {
    auto x0 = torch::full({n, 1, 1, 1}, 0.7);
    auto xt = d.q_sample(x0, full_t(n, t), torch::randn({n, 1, 1, 1}));
    const double ab = d.table64().alphas_cumprod[t].item<double>();
    // Sample mean has standard error sqrt((1−ᾱ)/n); allow 5 of them.
    EXPECT_NEAR(xt.mean().item<double>(), std::sqrt(ab) * 0.7, 5 * std::sqrt((1 - ab) / n)) << t;
    EXPECT_NEAR(xt.var().item<double>(), 1 - ab, 5 * (1 - ab) * std::sqrt(2.0 / n) + 1e-6) << t;
  }
}

TEST(Diffusion, ParameterisationsInvertEachOther) {
  torch::manual_seed(2);
  GaussianDiffusion d(linear_config());
  auto x0 = torch::rand({8, 3, 4, 4}) * 2 - 1;
  auto eps = torch::randn({8, 3, 4, 4});
  auto t = torch::tensor({0, 1, 10, 100, 400, 700, 900, 999}, torch::kLong);
  auto xt = d.q_sample(x0, t, eps);
  EXPECT_TRUE(torch::allclose(d.x0_from_eps(xt, t, eps), x0, 1e-3, 2e-3));
  EXPECT_TRUE(torch::allclose(d.eps_from_x0(xt, t, x0), eps, 1e-3, 2e-3));
  auto v = d.v_from(x0, eps, t);
  EXPECT_TRUE(torch::allclose(d.x0_from_v(xt, t, v), x0, 1e-4, 1e-4));
  // v computed by hand for one element: √ᾱ ε − √(1−ᾱ) x0.
  const double ab = d.table64().alphas_cumprod[400].item<double>();
  EXPECT_NEAR(v[4][0][0][0].item<double>(),
              std::sqrt(ab) * eps[4][0][0][0].item<double>() -
                  std::sqrt(1 - ab) * x0[4][0][0][0].item<double>(),
              1e-5);
}

TEST(Diffusion, PosteriorMeanMatchesMonteCarloStatistics) {
  // Draw x_{t−1} ~ q(x_{t−1}|x0), then x_t ~ q(x_t|x_{t−1}); conditioned on x_t (approximately, by
  // linear regression), E[x_{t−1} | x_t, x0] is the posterior mean. Check slope/intercept against
  // the coefficients and the residual variance against β̃_t.
  torch::manual_seed(3);
  GaussianDiffusion d(linear_config());
  const int64_t n = 400000, t = 300;
  const auto& s = d.table64();
  const double ab_prev = s.alphas_cumprod[t - 1].item<double>();
  const double beta = s.betas[t].item<double>();
  const double x0 = 0.4;
  auto xprev =
      std::sqrt(ab_prev) * x0 + std::sqrt(1 - ab_prev) * torch::randn({n}, torch::kFloat64);
  auto xt = std::sqrt(1 - beta) * xprev + std::sqrt(beta) * torch::randn({n}, torch::kFloat64);
  auto xt_c = xt - xt.mean();
  const double slope = ((xt_c * (xprev - xprev.mean())).sum() / (xt_c * xt_c).sum()).item<double>();
  const double intercept = (xprev.mean() - slope * xt.mean()).item<double>();
  const double residual_var = (xprev - (intercept + slope * xt)).var().item<double>();
  EXPECT_NEAR(slope, s.posterior_mean_coef2[t].item<double>(), 2e-3);
  EXPECT_NEAR(intercept, s.posterior_mean_coef1[t].item<double>() * x0, 2e-3);
  EXPECT_NEAR(residual_var, s.posterior_variance[t].item<double>(),
              5 * s.posterior_variance[t].item<double>() * std::sqrt(2.0 / n));
  // And the float32 implementation of q_posterior agrees with the table.
  auto post =
      d.q_posterior(torch::full({1, 1, 1, 1}, x0), torch::full({1, 1, 1, 1}, 0.3), full_t(1, t));
  EXPECT_NEAR(post.mean.item<double>(),
              s.posterior_mean_coef1[t].item<double>() * x0 +
                  s.posterior_mean_coef2[t].item<double>() * 0.3,
              1e-6);
}

TEST(Diffusion, FixedSmallAndLargeVariances) {
  DiffusionConfig c = linear_config();
  auto x = torch::zeros({2, 1, 2, 2});
  auto t = torch::tensor({0, 500}, torch::kLong);
  GaussianDiffusion small(c);
  auto ps = small.p_mean_variance(torch::zeros_like(x), x, t, true);
  EXPECT_NEAR(ps.variance[1].flatten()[0].item<double>(),
              small.table64().posterior_variance[500].item<double>(), 1e-9);
  c.variance = Variance::fixed_large;
  GaussianDiffusion large(c);
  auto pl = large.p_mean_variance(torch::zeros_like(x), x, t, true);
  EXPECT_NEAR(pl.variance[1].flatten()[0].item<double>(), large.table64().betas[500].item<double>(),
              1e-9);
  EXPECT_NEAR(pl.variance[0].flatten()[0].item<double>(),
              large.table64().posterior_variance[1].item<double>(), 1e-9);
}

TEST(Diffusion, PMeanVarianceWithTheTrueNoiseRecoversThePosterior) {
  torch::manual_seed(4);
  GaussianDiffusion d(linear_config());
  auto x0 = torch::rand({4, 3, 8, 8}) * 1.6 - 0.8;
  auto eps = torch::randn_like(x0);
  auto t = torch::tensor({1, 50, 300, 800}, torch::kLong);
  auto xt = d.q_sample(x0, t, eps);
  auto p = d.p_mean_variance(eps, xt, t, false);
  auto q = d.q_posterior(x0, xt, t);
  EXPECT_TRUE(torch::allclose(p.mean, q.mean, 1e-3, 1e-3));
  EXPECT_TRUE(torch::allclose(p.pred_x0, x0, 1e-3, 2e-3));
  // Clipping keeps x̂0 inside [-1, 1].
  auto clipped = d.p_mean_variance(eps * 50, xt, t, true);
  EXPECT_LE(clipped.pred_x0.abs().max().item<double>(), 1.0);
}

TEST(Diffusion, L1AndL2LossOnKnownInputs) {
  DiffusionConfig c = linear_config();
  auto x0 = torch::zeros({2, 1, 2, 2});
  auto noise = torch::zeros({2, 1, 2, 2});
  auto out = torch::tensor({1.0, -1.0, 2.0, 0.0, 0.5, 0.5, 0.5, 0.5}).view({2, 1, 2, 2});
  auto t = torch::zeros({2}, torch::kLong);
  GaussianDiffusion l2(c);
  auto loss2 = l2.loss_per_example(out, x0, noise, t);
  EXPECT_NEAR(loss2[0].item<double>(), (1 + 1 + 4 + 0) / 4.0, 1e-7);
  EXPECT_NEAR(loss2[1].item<double>(), 0.25, 1e-7);
  c.loss = Loss::l1;
  GaussianDiffusion l1(c);
  auto loss1 = l1.loss_per_example(out, x0, noise, t);
  EXPECT_NEAR(loss1[0].item<double>(), (1 + 1 + 2 + 0) / 4.0, 1e-7);
  EXPECT_NEAR(loss1[1].item<double>(), 0.5, 1e-7);
}

TEST(Diffusion, TargetsFollowTheObjective) {
  torch::manual_seed(5);
  DiffusionConfig c = linear_config();
  auto x0 = torch::randn({3, 1, 2, 2}), noise = torch::randn({3, 1, 2, 2});
  auto t = torch::tensor({5, 50, 500}, torch::kLong);
  c.objective = Objective::eps;
  EXPECT_TRUE(torch::equal(GaussianDiffusion(c).training_target(x0, noise, t), noise));
  c.objective = Objective::x0;
  EXPECT_TRUE(torch::equal(GaussianDiffusion(c).training_target(x0, noise, t), x0));
  c.objective = Objective::v;
  GaussianDiffusion dv(c);
  auto xt = dv.q_sample(x0, t, noise);
  // A perfect v-prediction yields the true x0.
  EXPECT_TRUE(
      torch::allclose(dv.predict_x0(dv.training_target(x0, noise, t), xt, t), x0, 1e-4, 1e-4));
}

// Every objective's output, converted both ways, gives back x0 and ε exactly (float64 round trip),
// at every SNR including the cosine schedule's near-zero-SNR last step.
TEST(Diffusion, DenoiseRecoversX0AndEpsForEveryObjective) {
  torch::manual_seed(7);
  auto x0 = torch::rand({4, 1, 3, 3}, torch::kFloat64) * 2 - 1;
  auto noise = torch::randn({4, 1, 3, 3}, torch::kFloat64);
  auto t = torch::tensor({0, 300, 700, 999}, torch::kLong);
  for (const char* schedule : {"linear", "cosine"}) {
    for (const char* objective : {"eps", "x0", "v"}) {
      DiffusionConfig c = linear_config();
      c.schedule = parse_choice<Schedule>(schedule, "schedule");
      c.objective = parse_choice<Objective>(objective, "objective");
      GaussianDiffusion d(c);
      d.to(torch::kCPU);
      auto xt = d.q_sample(x0.to(torch::kFloat32), t, noise.to(torch::kFloat32));
      auto out = d.training_target(x0.to(torch::kFloat32), noise.to(torch::kFloat32), t);
      auto den = d.denoise(out, xt, t);
      SCOPED_TRACE(std::string(schedule) + " " + objective);
      // x0 from ε divides by √ᾱ (3e-5 at the cosine's last step): float32 rounding of x_t is
      // amplified there, so that one case is compared at t < 999.
      const bool eps_tail = std::string(objective) == "eps" && std::string(schedule) == "cosine";
      auto rows = eps_tail ? torch::arange(3) : torch::arange(4);
      EXPECT_TRUE(torch::allclose(den.x0.index_select(0, rows).to(torch::kFloat64),
                                  x0.index_select(0, rows), 1e-3, 1e-3));
      const bool x0_head = std::string(objective) == "x0";  // ε from x0 divides by √(1 − ᾱ)
      auto eps_rows = x0_head ? torch::arange(1, 4) : torch::arange(4);
      EXPECT_TRUE(torch::allclose(den.eps.index_select(0, eps_rows).to(torch::kFloat64),
                                  noise.index_select(0, eps_rows), 1e-3, 1e-3));
      // And x_t = α x̂0 + σ ε̂ holds for the pair.
      auto ab = d.table().alphas_cumprod.index_select(0, t).view({-1, 1, 1, 1});
      EXPECT_TRUE(torch::allclose(torch::sqrt(ab) * den.x0 + torch::sqrt(1 - ab) * den.eps, xt,
                                  1e-4, 1e-4));
    }
  }
}

// Min-SNR-γ (Hang et al. 2023): the weight is min(SNR, γ)/SNR for ε, min(SNR, γ) for x0 and
// min(SNR, γ)/(SNR + 1) for v, with SNR = ᾱ/(1 − ᾱ) computed here in float64 from the β's.
TEST(Diffusion, MinSnrWeightsMatchTheirClosedForms) {
  auto t = torch::tensor({0, 10, 100, 400, 700, 999}, torch::kLong);
  DiffusionConfig c = linear_config();
  c.schedule = Schedule::cosine;
  c.loss_weighting = LossWeighting::min_snr;
  c.min_snr_gamma = 5.0;
  const auto betas = make_betas(c);
  for (const char* objective : {"eps", "x0", "v"}) {
    c.objective = parse_choice<Objective>(objective, "objective");
    GaussianDiffusion d(c);
    auto w = d.loss_weight(t);
    for (int64_t i = 0; i < t.size(0); ++i) {
      double ab = 1.0;
      for (int64_t k = 0; k <= t[i].item<int64_t>(); ++k) ab *= 1.0 - betas[k];
      const double snr = ab / (1.0 - ab), m = std::min(snr, 5.0);
      const double expected = std::string(objective) == "eps"  ? m / snr
                              : std::string(objective) == "x0" ? m
                                                               : m / (snr + 1.0);
      EXPECT_NEAR(w[i].item<double>(), expected, 1e-4 * std::max(1.0, expected))
          << objective << " t=" << t[i].item<int64_t>();
    }
  }
  // All three are the same loss in x0 units: w_obj · ‖Δout‖² = min(SNR, γ) · ‖Δx0‖².
  c.loss_weighting = LossWeighting::none;
  EXPECT_TRUE(torch::equal(GaussianDiffusion(c).loss_weight(t), torch::ones({6})));
}

TEST(Diffusion, MinSnrWeightingScalesTheLossPerExample) {
  torch::manual_seed(8);
  DiffusionConfig c = linear_config();
  c.objective = Objective::v;
  auto x0 = torch::randn({3, 1, 4, 4}), noise = torch::randn({3, 1, 4, 4});
  auto out = torch::randn({3, 1, 4, 4});
  auto t = torch::tensor({1, 500, 990}, torch::kLong);
  auto plain = GaussianDiffusion(c).loss_per_example(out, x0, noise, t);
  c.loss_weighting = LossWeighting::min_snr;
  GaussianDiffusion weighted(c);
  EXPECT_TRUE(torch::allclose(weighted.loss_per_example(out, x0, noise, t),
                              plain * weighted.loss_weight(t), 1e-6, 1e-6));
}

TEST(Diffusion, TimestepsAreUniform) {
  torch::manual_seed(6);
  GaussianDiffusion d(linear_config());
  auto t = d.sample_timesteps(100000, torch::kCPU);
  EXPECT_EQ(t.min().item<int64_t>(), 0);
  EXPECT_EQ(t.max().item<int64_t>(), 999);
  EXPECT_NEAR(t.to(torch::kFloat64).mean().item<double>(), 499.5, 3 * 288.7 / std::sqrt(1e5));
}

}  // namespace
}  // namespace ddpm
