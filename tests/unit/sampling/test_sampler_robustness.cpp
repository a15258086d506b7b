// Samplers with an imperfect denoiser: the closed-form Gaussian and two-point-mixture denoisers
// with a fixed relative error in their output, in each objective. A real model always errs a
// little; a well-conditioned sampler turns an error e into a change of its output of order e, never
// into a blow-up (DDIM from the cosine schedule's last step used to multiply an ε error by
// √(ᾱ_prev/ᾱ_T) ≈ 650 before it reached the image).
#include <gtest/gtest.h>

#include <cmath>

#include "ddpm/sampling/samplers.h"
#include "oracle.h"

namespace ddpm {
namespace {

using test::kImages;
using test::kN;
using test::kSide;
using test::make_noise;

DiffusionConfig schedule_config(const std::string& schedule, const std::string& objective) {
  DiffusionConfig c;
  c.schedule = parse_choice<Schedule>(schedule, "schedule");
  c.objective = parse_choice<Objective>(objective, "objective");
  return c;
}

// The oracle's output in the diffusion's objective, times (1 + error). The ε of a Gaussian oracle
// is (x − √ᾱ x̂0)/√(1 − ᾱ), which is exact and finite at every t (1 − ᾱ ≥ β_0 > 0).
Denoiser perturbed_oracle(const GaussianDiffusion& d, std::vector<double> means,
                          std::vector<double> weights, double s, double error) {
  return [&d, means, weights, s, error](const torch::Tensor& x, const torch::Tensor& t) {
    auto ab = d.table().alphas_cumprod.index_select(0, t).view({-1, 1, 1, 1});
    auto x0 = test::mixture_x0(d, x, t, means, weights, s);
    auto eps = (x - torch::sqrt(ab) * x0) / torch::sqrt(1 - ab);
    const auto& objective = d.config().objective;
    auto out = objective == Objective::eps  ? eps
               : objective == Objective::x0 ? x0
                                            : torch::sqrt(ab) * eps - torch::sqrt(1 - ab) * x0;
    return out * (1.0 + error);
  };
}

torch::Tensor run(const GaussianDiffusion& d, const std::string& sampler, const Denoiser& denoiser,
                  uint64_t seed, bool clip) {
  SamplerOptions options;
  options.sampler = parse_choice<Sampler>(sampler, "sampler");
  options.clip_denoised = clip;
  auto noise = make_noise(seed);
  return run_sampler(d, denoiser, noise, options);
}

struct Case {
  std::string schedule, objective, sampler;
};

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  for (const char* schedule : {"linear", "cosine"}) {
    for (const char* objective : {"eps", "x0", "v"}) {
      for (const char* sampler : {"ddpm", "ddim", "dpmpp2m", "heun"}) {
        cases.push_back({schedule, objective, sampler});
      }
    }
  }
  return cases;
}

// Gaussian data N(0.3, 0.2²), unclipped (clipping would hide a blow-up): a 1% error moves the mean
// and the standard deviation by at most a few times 1% of the data's scale, and halving the error
// halves the change (the response is linear in the error, not chaotic).
TEST(SamplerRobustness, ARelativeErrorMovesTheGaussianSamplesInProportion) {
  const double mu = 0.3, s = 0.2;
  for (const auto& c : all_cases()) {
    GaussianDiffusion d(schedule_config(c.schedule, c.objective));
    auto exact = run(d, c.sampler, perturbed_oracle(d, {mu}, {1.0}, s, 0.0), 1, false);
    for (double error : {0.01, -0.01, 0.005}) {
      auto x = run(d, c.sampler, perturbed_oracle(d, {mu}, {1.0}, s, error), 1, false);
      ASSERT_TRUE(torch::isfinite(x).all().item<bool>())
          << c.schedule << " " << c.objective << " " << c.sampler;
      const double dmean = std::abs(x.mean().item<double>() - exact.mean().item<double>());
      const double dsd = std::abs(x.std().item<double>() - exact.std().item<double>());
      const double dmax = (x - exact).abs().max().item<double>();
      SCOPED_TRACE(c.schedule + " " + c.objective + " " + c.sampler + " error " +
                   std::to_string(error));
      // Bounds in data units per unit of relative error: 3·|error| on the mean and the spread, and
      // 10·|error| on any single pixel (|x_T| reaches 4.5 in 20000 draws).
      EXPECT_LE(dmean, 3 * std::abs(error)) << dmean;
      EXPECT_LE(dsd, 2 * std::abs(error)) << dsd;
      EXPECT_LE(dmax, 10 * std::abs(error)) << dmax;
    }
  }
}

// Two point masses at ∓0.6 with weights 0.3/0.7, clipped as sampling runs by default: with a 1%
// error every sample still lands on a mode, in the data's proportions.
TEST(SamplerRobustness, ARelativeErrorKeepsTheMixtureModesAndProportions) {
  const std::vector<double> means = {-0.6, 0.6}, weights = {0.3, 0.7};
  const double tolerance = 5 * std::sqrt(0.3 * 0.7 / kN) + 0.02;
  for (const auto& c : all_cases()) {
    GaussianDiffusion d(schedule_config(c.schedule, c.objective));
    for (double error : {0.01, -0.01}) {
      auto x = run(d, c.sampler, perturbed_oracle(d, means, weights, 0.0, error), 4, true);
      SCOPED_TRACE(c.schedule + " " + c.objective + " " + c.sampler + " error " +
                   std::to_string(error));
      const double positive = (x > 0).to(torch::kFloat64).mean().item<double>();
      EXPECT_NEAR(positive, 0.7, tolerance);
      auto distance = torch::min((x - 0.6).abs(), (x + 0.6).abs());
      EXPECT_LT(distance.mean().item<double>(), 0.05);
    }
  }
}

}  // namespace
}  // namespace ddpm
