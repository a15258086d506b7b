// Sampler tests against oracle denoisers: for Gaussian and two-point data the optimal ε-predictor
// is known in closed form, so a correct sampler must reproduce the data distribution.
#include <gtest/gtest.h>

#include <cmath>

#include "ddpm/sampling/guidance.h"
#include "ddpm/sampling/samplers.h"
#include "oracle.h"

namespace ddpm {
namespace {

using test::kImages;
using test::kN;
using test::kSide;
using test::make_noise;

// Options for one sampler: steps, clipping, η, spacing and churn.
SamplerOptions with_options(Sampler sampler, int64_t steps, bool clip, double eta = 0.0,
                            Spacing spacing = Spacing::automatic, double churn = 0.0) {
  SamplerOptions o;
  o.sampler = sampler;
  o.steps = steps;
  o.clip_denoised = clip;
  o.eta = eta;
  o.spacing = spacing;
  o.churn = churn;
  return o;
}

DiffusionConfig linear_config() { return DiffusionConfig{}; }  // T = 1000, β 1e-4 → 0.02

torch::Tensor alpha_bar(const GaussianDiffusion& d, const torch::Tensor& t,
                        const torch::Tensor& x) {
  return d.table().alphas_cumprod.index_select(0, t).view({-1, 1, 1, 1}).to(x.scalar_type());
}

// ε*(x_t, t) = √(1−ᾱ)(x_t − √ᾱ μ)/(ᾱ s² + 1 − ᾱ) for data N(μ, s²).
Denoiser gaussian_oracle(const GaussianDiffusion& d, double mu, double s) {
  return [&d, mu, s](const torch::Tensor& x, const torch::Tensor& t) {
    auto ab = alpha_bar(d, t, x);
    return torch::sqrt(1 - ab) * (x - torch::sqrt(ab) * mu) / (ab * s * s + 1 - ab);
  };
}

// Optimal ε for a mixture of Gaussians N(m_i, s²) (s = 0: point masses) with weights π_i:
// E[x0 | x_t] from each component's posterior mean, weighted by its responsibility.
torch::Tensor mixture_eps(const GaussianDiffusion& d, const torch::Tensor& x,
                          const torch::Tensor& t, const std::vector<double>& means,
                          const std::vector<double>& weights, double s) {
  auto ab = alpha_bar(d, t, x);
  return (x - torch::sqrt(ab) * test::mixture_x0(d, x, t, means, weights, s)) / torch::sqrt(1 - ab);
}

// Tolerances: sampling error of the mean is s/√N and of the standard deviation s/√(2N); we allow
// five standard errors plus a small discretisation allowance (0.005 in data units) for the finite
// number of sampler steps.
void expect_gaussian(const torch::Tensor& samples, double mu, double s) {
  const double mean = samples.mean().item<double>(), sd = samples.std().item<double>();
  EXPECT_NEAR(mean, mu, 5 * s / std::sqrt(kN) + 0.005);
  EXPECT_NEAR(sd, s, 5 * s / std::sqrt(2 * kN) + 0.005);
}

TEST(Samplers, AncestralDdpmWithTheGaussianOracleReproducesTheData) {
  GaussianDiffusion d(linear_config());
  auto noise = make_noise(1);
  auto x = run_sampler(d, gaussian_oracle(d, 0.3, 0.2), noise,
                       with_options(Sampler::ddpm, 0, /*clip=*/false));
  expect_gaussian(x, 0.3, 0.2);
}

TEST(Samplers, AncestralDdpmWithLargeVarianceAlsoReproducesTheData) {
  DiffusionConfig c = linear_config();
  c.variance = Variance::fixed_large;
  GaussianDiffusion d(c);
  auto noise = make_noise(2);
  auto x =
      run_sampler(d, gaussian_oracle(d, -0.2, 0.3), noise, with_options(Sampler::ddpm, 0, false));
  // β_t > β̃_t adds a little extra variance at the end; the original DDPM accepts this bias.
  EXPECT_NEAR(x.mean().item<double>(), -0.2, 5 * 0.3 / std::sqrt(kN) + 0.005);
  EXPECT_NEAR(x.std().item<double>(), 0.3, 0.03);
}

// For Gaussian data one deterministic DDIM step maps the deviation u = x_t − √ᾱ_t μ linearly:
// u_prev = k u with k = (√(ᾱ_prev ᾱ_t) s² + √((1−ᾱ_prev)(1−ᾱ_t))) / (ᾱ_t s² + 1 − ᾱ_t), which is at
// most the exact ratio √(v_prev/v_t) (Cauchy–Schwarz): DDIM with few steps under-disperses. This
// computes the standard deviation the sampler must produce from x_T ~ N(0, 1), in float64.
double ddim_expected_sd(const GaussianDiffusion& d, const std::vector<int64_t>& ts, double s) {
  double sd = 1.0;
  for (int64_t i = static_cast<int64_t>(ts.size()) - 1; i >= 0; --i) {
    const double at = d.table64().alphas_cumprod[ts[i]].item<double>();
    const double ap = i > 0 ? d.table64().alphas_cumprod[ts[i - 1]].item<double>() : 1.0;
    sd *= (std::sqrt(ap * at) * s * s + std::sqrt((1 - ap) * (1 - at))) / (at * s * s + 1 - at);
  }
  return sd;
}

TEST(Samplers, Ddim50StepsWithTheGaussianOracleReproducesTheData) {
  GaussianDiffusion d(linear_config());
  const double mu = 0.3, s = 0.2;
  for (const char* spacing : {"uniform", "quadratic"}) {
    auto noise = make_noise(3);
    auto x = run_sampler(
        d, gaussian_oracle(d, mu, s), noise,
        with_options(Sampler::ddim, 50, false, 0.0, parse_choice<Spacing>(spacing, "spacing")));
    const double expected_sd =
        ddim_expected_sd(d, ddim_timesteps(1000, 50, parse_choice<Spacing>(spacing, "spacing")), s);
    // The exact DDIM prediction, within five standard errors of the sample statistics.
    EXPECT_NEAR(x.mean().item<double>(), mu, 5 * s / std::sqrt(kN) + 1e-3) << spacing;
    EXPECT_NEAR(x.std().item<double>(), expected_sd, 5 * s / std::sqrt(2 * kN)) << spacing;
    // And the data's own s within the discretisation error of 50 steps (12% uniform, 5% quadratic).
    EXPECT_NEAR(x.std().item<double>(), s, std::string(spacing) == "uniform" ? 0.13 * s : 0.05 * s);
  }
  // With all 1000 steps DDIM is the probability-flow ODE solved finely: s within 1%.
  auto noise = make_noise(3);
  auto x = run_sampler(d, gaussian_oracle(d, mu, s), noise,
                       with_options(Sampler::ddim, 1000, false, 0.0, Spacing::uniform));
  expect_gaussian(x, mu, s);
}

// For Gaussian data the probability-flow ODE is solved exactly by the linear map
// x_0 = μ + s (x_T − √ᾱ_T μ)/√(ᾱ_T s² + 1 − ᾱ_T): every deterministic sampler is measured against
// it.
double max_error_to_exact_flow(const GaussianDiffusion& d, const std::string& sampler,
                               int64_t steps, double mu, double s) {
  auto noise = make_noise(5);
  auto x_T = make_noise(5).next();
  auto x =
      sampler == "ddim"
          ? run_sampler(d, gaussian_oracle(d, mu, s), noise,
                        with_options(Sampler::ddim, steps, false, 0.0, Spacing::uniform))
      : sampler == "heun"
          ? run_sampler(d, gaussian_oracle(d, mu, s), noise,
                        with_options(Sampler::heun, steps, false, 0.0, Spacing::automatic, 0.0))
          : run_sampler(d, gaussian_oracle(d, mu, s), noise,
                        with_options(Sampler::dpmpp2m, steps, false, 0.0, Spacing::logsnr));
  // The deterministic samplers treat x_T as a draw at their first timestep (σ ≤ 80).
  const double ab = d.table64().alphas_cumprod[deterministic_start(d)].item<double>();
  auto exact = mu + s * (x_T - std::sqrt(ab) * mu) / std::sqrt(ab * s * s + 1 - ab);
  return (x - exact).abs().max().item<double>();
}

TEST(Samplers, DpmSolverPlusPlus2MFollowsTheExactFlowWithFewSteps) {
  GaussianDiffusion d(linear_config());
  const double mu = 0.3, s = 0.2;
  const double e10 = max_error_to_exact_flow(d, "dpmpp2m", 10, mu, s);
  const double e20 = max_error_to_exact_flow(d, "dpmpp2m", 20, mu, s);
  const double e40 = max_error_to_exact_flow(d, "dpmpp2m", 40, mu, s);
  const double ddim50 = max_error_to_exact_flow(d, "ddim", 50, mu, s);
  const double ddim100 = max_error_to_exact_flow(d, "ddim", 100, mu, s);
  // More steps, less error; 40 steps within 0.004 of the exact map over 20000 draws (data units).
  EXPECT_LT(e20, e10);
  EXPECT_LT(e40, e20);
  EXPECT_LT(e40, 0.004);
  // 20 evaluations are several times closer than DDIM's 50, and closer than DDIM's 100.
  EXPECT_LT(4 * e20, ddim50) << e20 << " vs " << ddim50;
  EXPECT_LT(e20, ddim100);
  // And the samples have the data's distribution.
  auto noise = make_noise(6);
  auto x = run_sampler(d, gaussian_oracle(d, mu, s), noise,
                       with_options(Sampler::dpmpp2m, 20, false, 0.0, Spacing::logsnr));
  expect_gaussian(x, mu, s);
}

// EDM's Heun sampler is second order: doubling the levels cuts the error to the exact flow about
// fourfold (measured 0.20 → 0.061 → 0.0123 of the data's sd for 10 → 18 → 36 levels, which an
// independent float64 simulation of Algorithm 2 on this schedule reproduces: 24%, 6.1%, 1.2%).
TEST(Samplers, HeunFollowsTheExactFlowWithSecondOrderConvergence) {
  GaussianDiffusion d(linear_config());
  const double mu = 0.3, s = 0.2;
  const double h10 = max_error_to_exact_flow(d, "heun", 10, mu, s);
  const double h18 = max_error_to_exact_flow(d, "heun", 18, mu, s);
  const double h36 = max_error_to_exact_flow(d, "heun", 36, mu, s);
  EXPECT_LT(h18, h10 / 2.5) << h18 << " vs " << h10;  // (18/10)² = 3.2
  EXPECT_LT(h36, h18 / 3.0) << h36 << " vs " << h18;  // (36/18)² = 4
  EXPECT_LT(h36, 0.015);
  auto noise = make_noise(7);
  auto x = run_sampler(d, gaussian_oracle(d, mu, s), noise,
                       with_options(Sampler::heun, 36, false, 0.0, Spacing::automatic, 0.0));
  EXPECT_NEAR(x.mean().item<double>(), mu, 5 * s / std::sqrt(kN) + 0.002);
  EXPECT_NEAR(x.std().item<double>(), s, 0.02 * s + 5 * s / std::sqrt(2 * kN));
}

// The σ grid: ρ = 7 spacing between σ(0) and σ_max = 80, snapped to distinct timesteps, descending.
TEST(Samplers, KarrasTimestepsSpanTheCappedRange) {
  for (const char* schedule : {"linear", "cosine"}) {
    DiffusionConfig c = linear_config();
    c.schedule = parse_choice<Schedule>(schedule, "schedule");
    GaussianDiffusion d(c);
    auto ts = karras_timesteps(d, 18, 7.0);
    ASSERT_EQ(ts.size(), 18u) << schedule;
    EXPECT_EQ(ts.front(), deterministic_start(d));
    EXPECT_EQ(ts.back(), 0);
    for (size_t i = 1; i < ts.size(); ++i) EXPECT_LT(ts[i], ts[i - 1]);
    const double ab = d.table64().alphas_cumprod[ts.front()].item<double>();
    const double sigma_max = std::sqrt((1 - ab) / ab);
    EXPECT_LE(sigma_max, 80.0);
    const double ab_next = d.table64().alphas_cumprod[ts.front() + 1].item<double>();
    EXPECT_GT(std::sqrt((1 - ab_next) / ab_next), 80.0);  // the largest timestep within the cap
  }
}

// Stochastic Heun (S_churn > 0) still samples the data distribution.
TEST(Samplers, HeunWithChurnReproducesTheData) {
  GaussianDiffusion d(linear_config());
  auto noise = make_noise(8);
  auto x = run_sampler(d, gaussian_oracle(d, -0.1, 0.25), noise,
                       with_options(Sampler::heun, 80, false, 0.0, Spacing::automatic, 40.0));
  EXPECT_NEAR(x.mean().item<double>(), -0.1, 5 * 0.25 / std::sqrt(kN) + 0.002);
  EXPECT_NEAR(x.std().item<double>(), 0.25, 0.02 * 0.25 + 5 * 0.25 / std::sqrt(2 * kN));
  // The churn really adds noise: the images differ from the deterministic sampler's.
  auto again = make_noise(8);
  auto deterministic =
      run_sampler(d, gaussian_oracle(d, -0.1, 0.25), again,
                  with_options(Sampler::heun, 80, false, 0.0, Spacing::automatic, 0.0));
  EXPECT_GT((x - deterministic).abs().mean().item<double>(), 0.05);
}

TEST(Samplers, RunSamplerKnowsEachSamplerAndItsDefaultSteps) {
  SamplerOptions o;
  EXPECT_EQ(sampler_steps(o, 1000), 1000);
  o.sampler = Sampler::ddim;
  EXPECT_EQ(sampler_steps(o, 1000), 50);
  o.sampler = Sampler::dpmpp2m;
  EXPECT_EQ(sampler_steps(o, 1000), 20);
  EXPECT_EQ(sampler_steps(o, 10), 10);
  o.steps = 7;
  EXPECT_EQ(sampler_steps(o, 1000), 7);
  o.sampler = Sampler::heun;
  EXPECT_EQ(sampler_steps(o, 1000), 13);  // 7 levels: 2·7 − 1 evaluations
  o.steps = 0;
  EXPECT_EQ(sampler_steps(o, 1000), 35);  // EDM's 18 levels
  EXPECT_EQ(parse_choice<Sampler>("dpmpp2m", "--sampler"), Sampler::dpmpp2m);
  EXPECT_EQ(parse_choice<Sampler>("heun", "--sampler"), Sampler::heun);
  try {
    parse_choice<Sampler>("euler", "--sampler");
    FAIL() << "no error";
  } catch (const std::exception& e) {
    EXPECT_STREQ(e.what(),
                 "--sampler: unknown value \"euler\" (expected ddpm | ddim | dpmpp2m | heun)");
  }
}

TEST(Samplers, TwoPointMixtureModesAppearInTheRightProportions) {
  GaussianDiffusion d(linear_config());
  const std::vector<double> means = {-0.6, 0.6}, weights = {0.3, 0.7};
  Denoiser oracle = [&](const torch::Tensor& x, const torch::Tensor& t) {
    return mixture_eps(d, x, t, means, weights, 0.0);
  };
  // Proportion of the +0.6 mode: binomial standard error √(p(1−p)/N); five of them.
  const double tolerance = 5 * std::sqrt(0.3 * 0.7 / kN);
  for (const char* sampler : {"ddpm", "ddim", "dpmpp2m", "heun"}) {
    auto noise = make_noise(4);
    SamplerOptions options;
    options.sampler = parse_choice<Sampler>(sampler, "sampler");
    auto x = run_sampler(d, oracle, noise, options);
    const double positive = (x > 0).to(torch::kFloat64).mean().item<double>();
    EXPECT_NEAR(positive, 0.7, tolerance) << sampler;
    // Every sample lands on a mode.
    auto distance = torch::min((x - 0.6).abs(), (x + 0.6).abs());
    EXPECT_LT(distance.mean().item<double>(), 0.02) << sampler;
  }
}

TEST(Samplers, LogSnrTimestepsAreEvenInLambda) {
  GaussianDiffusion d(linear_config());
  auto ts = sampler_timesteps(d, 10, Spacing::logsnr);
  ASSERT_EQ(ts.size(), 10u);
  EXPECT_EQ(ts.front(), 0);
  EXPECT_EQ(ts.back(), deterministic_start(d));
  const auto& ab = d.table64().alphas_cumprod;
  auto lambda = [&](int64_t t) {
    const double a = ab[t].item<double>();
    return 0.5 * std::log(a / (1 - a));
  };
  const double step = (lambda(0) - lambda(ts.back())) / 9;
  for (size_t i = 1; i < ts.size(); ++i) {
    EXPECT_NEAR(lambda(ts[i - 1]) - lambda(ts[i]), step, 0.25 * step) << i;
  }
}

TEST(Samplers, DdimTimestepsAreEvenlySpacedAndUnique) {
  EXPECT_EQ(ddim_timesteps(1000, 5, Spacing::uniform),
            (std::vector<int64_t>{0, 250, 500, 749, 999}));
  auto q = ddim_timesteps(1000, 10, Spacing::quadratic);
  EXPECT_EQ(q.front(), 0);
  EXPECT_EQ(q.back(), 999);
  EXPECT_LT(q[1] - q[0], q[9] - q[8]);
  EXPECT_EQ(ddim_timesteps(10, 10, Spacing::uniform).size(), 10u);
  EXPECT_THROW(ddim_timesteps(10, 11, Spacing::uniform), std::exception);
}

TEST(Samplers, NoiseDependsOnlyOnEachImagesSeed) {
  NoiseStream all({5, 6, 7}, {1, 2, 2}, torch::kCPU);
  NoiseStream one({6}, {1, 2, 2}, torch::kCPU);
  for (int step = 0; step < 3; ++step) {
    auto a = all.next();
    auto b = one.next();
    EXPECT_TRUE(torch::equal(a[1], b[0]));
    EXPECT_FALSE(torch::equal(a[0], a[1]));
  }
}

// Two classes N(∓0.5, 0.2²); the unconditional model is their 50/50 mixture. Label 2 = null class.
class GuidanceTest : public ::testing::Test {
 protected:
  GuidanceTest() : d_(linear_config()) {}
  ConditionalDenoiser model() {
    return [this](const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y) {
      images_evaluated_ += x.size(0);
      auto cond0 = mixture_eps(d_, x, t, {-0.5}, {1.0}, 0.2);
      auto cond1 = mixture_eps(d_, x, t, {0.5}, {1.0}, 0.2);
      auto uncond = mixture_eps(d_, x, t, {-0.5, 0.5}, {0.5, 0.5}, 0.2);
      auto label = y.view({-1, 1, 1, 1});
      return torch::where(label == 0, cond0, torch::where(label == 1, cond1, uncond));
    };
  }
  torch::Tensor sample_class1(double w, uint64_t seed, torch::Tensor guided = {}) {
    auto labels = torch::ones({kImages}, torch::kLong);
    auto noise = make_noise(seed);
    return run_sampler(d_, classifier_free_guidance(model(), labels, 2, w, guided), noise,
                       with_options(Sampler::ddim, 50, false, 0.0, Spacing::uniform));
  }
  GaussianDiffusion d_;
  int64_t images_evaluated_ = 0;
};

TEST_F(GuidanceTest, ZeroGuidanceIsTheConditionalSampler) {
  auto guided = sample_class1(0.0, 9);
  auto noise = make_noise(9);
  auto plain = run_sampler(d_, gaussian_oracle(d_, 0.5, 0.2), noise,
                           with_options(Sampler::ddim, 50, false, 0.0, Spacing::uniform));
  EXPECT_TRUE(torch::allclose(guided, plain, 1e-4, 1e-4));
  EXPECT_NEAR(guided.mean().item<double>(), 0.5, 5 * 0.2 / std::sqrt(kN) + 1e-3);
}

TEST_F(GuidanceTest, LargerGuidancePushesSamplesTowardTheClass) {
  const double m0 = sample_class1(0.0, 11).mean().item<double>();
  const double m1 = sample_class1(1.0, 11).mean().item<double>();
  const double m4 = sample_class1(4.0, 11).mean().item<double>();
  // Sampling error of each mean is about 0.2/√N ≈ 0.0014; the shifts are far larger.
  EXPECT_GT(m1, m0 + 0.02);
  EXPECT_GT(m4, m1 + 0.02);
  auto wrong_side = (sample_class1(4.0, 11) < 0).to(torch::kFloat64).mean().item<double>();
  auto wrong_side0 = (sample_class1(0.0, 11) < 0).to(torch::kFloat64).mean().item<double>();
  EXPECT_LE(wrong_side, wrong_side0);
}

// σ_t = √((1 − ᾱ_t)/ᾱ_t) from the linear schedule's own product, ᾱ_t = Π_{s≤t} (1 − β_s) with β
// evenly spaced from 1e-4 to 0.02, against the mask.
TEST_F(GuidanceTest, TheIntervalHoldsTheTimestepsWhoseSigmaLiesInIt) {
  const double low = 0.28, high = 5.42;
  const torch::Tensor mask = guidance_timesteps(d_, low, high);
  ASSERT_EQ(mask.size(0), 1000);
  double alpha_bar = 1.0;
  int64_t inside = 0;
  for (int64_t t = 0; t < 1000; ++t) {
    alpha_bar *= 1.0 - (1e-4 + (0.02 - 1e-4) * static_cast<double>(t) / 999.0);
    const double sigma = std::sqrt((1.0 - alpha_bar) / alpha_bar);
    if (std::abs(sigma - low) < 1e-6 || std::abs(sigma - high) < 1e-6) continue;
    const bool expected = sigma >= low && sigma <= high;
    EXPECT_EQ(mask[t].item<bool>(), expected) << "t = " << t << ", sigma = " << sigma;
    inside += expected;
  }
  EXPECT_GT(inside, 100);
  EXPECT_LT(inside, 900);
}

// Inside the interval the output is (1 + w)·cond − w·uncond, outside it the conditional output
// alone, per image; a batch with no image inside skips the unconditional pass.
TEST_F(GuidanceTest, OutsideItsIntervalGuidanceIsTheConditionalModelAndCostsNothing) {
  const torch::Tensor mask = guidance_timesteps(d_, 0.28, 5.42);
  const int64_t in = mask.nonzero()[0].item<int64_t>(), out = 10;
  ASSERT_FALSE(mask[out].item<bool>());
  auto labels = torch::ones({2}, torch::kLong);
  const Denoiser guided = classifier_free_guidance(model(), labels, 2, 3.0, mask);
  const Denoiser everywhere = classifier_free_guidance(model(), labels, 2, 3.0);
  const Denoiser conditional = classifier_free_guidance(model(), labels, 2, 0.0);
  auto x = torch::randn({2, 1, 4, 4}, torch::kDouble);
  auto t = torch::tensor({in, out});
  auto result = guided(x, t);
  EXPECT_TRUE(torch::allclose(result[0], everywhere(x, t)[0]));
  EXPECT_TRUE(torch::allclose(result[1], conditional(x, t)[1]));
  EXPECT_FALSE(torch::allclose(result[0], conditional(x, t)[0]));
  images_evaluated_ = 0;
  guided(x, torch::tensor({out, out}));
  EXPECT_EQ(images_evaluated_, 2);
  guided(x, torch::tensor({in, in}));
  EXPECT_EQ(images_evaluated_, 2 + 4);
}

TEST_F(GuidanceTest, AnIntervalOverEveryNoiseLevelIsPlainGuidanceAndOneOverNoneIsNoGuidance) {
  const auto plain = sample_class1(2.0, 13);
  EXPECT_TRUE(torch::equal(sample_class1(2.0, 13, guidance_timesteps(d_, 0.0, 1e30)), plain));
  EXPECT_TRUE(torch::equal(sample_class1(2.0, 13, guidance_timesteps(d_, 1e6, 1e7)),
                           sample_class1(0.0, 13)));
  // Guided only in the middle noise levels: between the two.
  const double m0 = sample_class1(0.0, 13).mean().item<double>();
  const double m_interval =
      sample_class1(2.0, 13, guidance_timesteps(d_, 0.28, 5.42)).mean().item<double>();
  EXPECT_GT(m_interval, m0 + 0.01);
  EXPECT_LT(m_interval, plain.mean().item<double>() - 0.01);
}

}  // namespace
}  // namespace ddpm

namespace ddpm {
namespace {

// The plan reads every noise level from the schedule table: ᾱ as built, σ = √((1 − ᾱ)/ᾱ) and
// λ = ½ log(ᾱ/(1 − ᾱ)) against their closed forms, in the order each sampler visits them, and the
// step counts of the defaults table.
TEST(SamplingPlan, EachSamplerVisitsItsTimestepsWithTheirNoiseLevels) {
  DiffusionConfig c;
  c.schedule = Schedule::cosine;
  GaussianDiffusion d(c);
  const int64_t T = d.timesteps();
  std::vector<double> expected_alpha_bar;  // ᾱ_t = Π_{s ≤ t} (1 − β_s), from the betas alone
  for (double beta : make_betas(c)) {
    expected_alpha_bar.push_back((expected_alpha_bar.empty() ? 1.0 : expected_alpha_bar.back()) *
                                 (1.0 - beta));
  }
  for (Sampler sampler : {Sampler::ddpm, Sampler::ddim, Sampler::dpmpp2m, Sampler::heun}) {
    SamplerOptions o;
    o.sampler = sampler;
    const SamplingPlan plan = make_plan(d, o);
    SCOPED_TRACE(choice_name(sampler));
    const int64_t expected = sampler == Sampler::ddpm ? T : sampler_defaults(sampler).steps;
    EXPECT_LE(plan.size(), expected);
    EXPECT_GE(plan.size(), expected - 2);  // snapping to timesteps may merge a level or two
    EXPECT_EQ(plan.timesteps.back(), 0);
    EXPECT_EQ(plan.timesteps.front(), sampler == Sampler::ddpm ? T - 1 : deterministic_start(d));
    for (int64_t i = 0; i < plan.size(); ++i) {
      if (i > 0) EXPECT_LT(plan.timesteps[i], plan.timesteps[i - 1]);
      const int64_t t = plan.timesteps[i];
      const double ab = expected_alpha_bar[t];
      EXPECT_NEAR(plan.alpha_bar[i], ab, 1e-12 * std::max(ab, 1e-3));
      EXPECT_NEAR(plan.sigma[i], std::sqrt((1 - ab) / ab), 1e-9 * std::sqrt((1 - ab) / ab));
      EXPECT_NEAR(plan.lambda[i], 0.5 * std::log(ab / (1 - ab)), 1e-9);
    }
  }
  EXPECT_EQ(default_steps_text(), "50 ddim / 20 dpmpp2m / 18 heun");
}

// Every sampler is reached through one signature, and run_sampler is that function over make_plan.
TEST(SamplingPlan, RunSamplerIsTheSamplerOverItsPlan) {
  GaussianDiffusion d(linear_config());
  for (Sampler sampler : {Sampler::ddpm, Sampler::ddim, Sampler::dpmpp2m, Sampler::heun}) {
    SamplerOptions o = with_options(sampler, 8, true, 0.5, Spacing::automatic, 1.0);
    auto a = make_noise(6), b = make_noise(6);
    const auto via_run = run_sampler(d, gaussian_oracle(d, 0.1, 0.3), a, o);
    const auto direct =
        sampler_function(sampler)(d, gaussian_oracle(d, 0.1, 0.3), make_plan(d, o), b, o);
    EXPECT_TRUE(torch::equal(via_run, direct)) << choice_name(sampler);
  }
}

}  // namespace
}  // namespace ddpm
