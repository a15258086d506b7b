// Editing's pieces against closed forms: RePaint's path, the strength's timestep, spherical
// interpolation, and inpainting, image-to-image and inversion with oracle denoisers whose answer
// is known (flat images of one of two grey levels; Gaussian pixels).
#include <gtest/gtest.h>

#include <cmath>

#include "ddpm/sampling/editing.h"
#include "ddpm/sampling/samplers.h"
#include "oracle.h"

namespace ddpm {
namespace {

TEST(RepaintPath, WithoutJumpsItIsThePlainPath) {
  EXPECT_EQ(repaint_path(4, 10, 1), (std::vector<int64_t>{0, 1, 2, 3, 4}));
}

TEST(RepaintPath, ItGoesBackUpEachJumpLengthAsOftenAsAskedAndEndsAtTheImage) {
  const int64_t n = 30, length = 10, jumps = 3;
  const auto path = repaint_path(n, length, jumps);
  EXPECT_EQ(path.front(), 0);
  EXPECT_EQ(path.back(), n);
  int64_t down = 0, up = 0;
  for (size_t i = 1; i < path.size(); ++i) {
    const int64_t move = path[i] - path[i - 1];
    ASSERT_TRUE(move == 1 || move == -1);
    (move > 0 ? down : up) += 1;
  }
  // Jumps from states 10 and 20 (never from the image, state 30), twice each, 10 states back.
  EXPECT_EQ(up, 2 * (jumps - 1) * length);
  EXPECT_EQ(down, n + up);
  // The start of the path: down to 10, back to 0, down to 10, back to 0, down to 20.
  EXPECT_EQ(path[10], 10);
  EXPECT_EQ(path[20], 0);
  EXPECT_EQ(path[30], 10);
  EXPECT_EQ(path[40], 0);
  EXPECT_EQ(path[60], 20);
}

TEST(Strength, ItsTimestepIsTheFractionOfTheScheduleAndItsRangeIsChecked) {
  EXPECT_EQ(strength_timestep(1000, 1.0), 999);
  EXPECT_EQ(strength_timestep(1000, 0.5), 500);  // round(499.5)
  EXPECT_EQ(strength_timestep(1000, 1e-4), 0);
  for (double bad : {0.0, -0.5, 1.01, std::nan("")}) {
    EXPECT_THROW(strength_timestep(1000, bad), Error) << bad;
  }
  GaussianDiffusion d(DiffusionConfig{});
  SamplerOptions o;
  o.sampler = Sampler::ddim;
  o.steps = 10;
  const auto rest = plan_from(make_plan(d, o), 500);
  ASSERT_GT(rest.size(), 0);
  EXPECT_LE(rest.timesteps.front(), 500);
  EXPECT_EQ(rest.timesteps.back(), 0);
  EXPECT_EQ(rest.size(), 5);  // 0, 111, 222, 333, 444 of the 10 uniform timesteps in [0, 999]
}

TEST(Slerp, ItKeepsTheNormAndMatchesTheClosedForm) {
  auto a = torch::tensor({1.0, 0.0, 0.0}), b = torch::tensor({0.0, 2.0, 0.0});
  EXPECT_TRUE(torch::allclose(slerp(a, b, 0.0), a));
  EXPECT_TRUE(torch::allclose(slerp(a, b, 1.0), b));
  // Orthogonal: sin((1 − w)π/2) a + sin(wπ/2) b.
  auto mid = slerp(a, b, 0.5);
  EXPECT_TRUE(torch::allclose(mid, torch::tensor({std::sqrt(0.5), std::sqrt(2.0), 0.0})));
  auto u = torch::randn({1000}), v = torch::randn({1000});
  v = v * (u.norm() / v.norm());
  for (double w : {0.25, 0.5, 0.75}) {
    EXPECT_NEAR(slerp(u, v, w).norm().item<double>(), u.norm().item<double>(), 1e-3);
  }
  EXPECT_TRUE(torch::allclose(slerp(u, u, 0.3), u));  // parallel: linear
}

// E[x0 | x_t] for flat images, each all `lo` or all `hi` with equal weights: one responsibility per
// image from all its pixels, as an ε-model output.
Denoiser flat_two_level_oracle(const GaussianDiffusion& d, double lo, double hi) {
  return [&d, lo, hi](const torch::Tensor& x, const torch::Tensor& t) {
    auto ab = d.table().alphas_cumprod.index_select(0, t).view({-1, 1, 1, 1});
    auto log_lik = [&](double m) {
      return -(x - torch::sqrt(ab) * m).pow(2).flatten(1).sum(1) / (2 * (1 - ab.flatten()));
    };
    auto p_hi = torch::sigmoid(log_lik(hi) - log_lik(lo)).view({-1, 1, 1, 1});
    auto x0 = lo + (hi - lo) * p_hi;
    return (x - torch::sqrt(ab) * x0) / torch::sqrt(1 - ab);
  };
}

constexpr int64_t kImages = 40, kSide = 8;

NoiseStream noise_for(uint64_t seed) {
  std::vector<uint64_t> seeds;
  for (int64_t i = 0; i < kImages; ++i) seeds.push_back(seed + i);
  return NoiseStream(seeds, {1, kSide, kSide}, torch::kCPU);
}

// The fraction of images whose regenerated half is the known half's level, and whose known half
// ends as itself (before any pasting), for one sampler and resampling.
double completed(Sampler sampler, int64_t jumps, int64_t length) {
  GaussianDiffusion d(DiffusionConfig{});
  // Half the inputs are all −0.5, half all +0.5; the left half of each is known.
  auto known = torch::full({kImages, 1, kSide, kSide}, -0.5);
  known.slice(0, kImages / 2).fill_(0.5);
  auto keep = torch::zeros({kImages, 1, kSide, kSide}, torch::kBool);
  keep.slice(3, 0, kSide / 2).fill_(true);
  SamplerOptions o;
  o.sampler = sampler;
  o.resample_jumps = jumps;
  o.resample_length = length;
  auto noise = noise_for(7);
  auto x =
      run_sampler(d, keep_known(d, flat_two_level_oracle(d, -0.5, 0.5), known, keep), noise, o);
  auto error = std::get<0>((x - known).abs().flatten(1).max(1));
  return (error < 0.02).to(torch::kFloat64).mean().item<double>();
}

TEST(Inpainting, EverySamplerCompletesTheKnownHalfWithTheOracleWithItsDefaultResampling) {
  for (const auto& d : kInpaintingResampling) {
    SCOPED_TRACE(choice_name(d.sampler));
    EXPECT_EQ(completed(d.sampler, d.jumps, d.length), 1.0);
  }
}

// Without resampling a deterministic sampler keeps what its first steps drew in the regenerated
// half: measured 0.775-0.8 of the images complete (the table in docs/results.md).
TEST(Inpainting, WithoutResamplingTheDeterministicSamplersMissSomeImages) {
  EXPECT_EQ(completed(Sampler::ddpm, 1, 1), 1.0);  // ancestral noise alone suffices here
  for (Sampler sampler : {Sampler::ddim, Sampler::dpmpp2m, Sampler::heun}) {
    EXPECT_LT(completed(sampler, 1, 1), 0.9) << choice_name(sampler);
  }
}

TEST(ImageToImage, LowStrengthKeepsTheInputsLevelAndFullStrengthHasBoth) {
  GaussianDiffusion d(DiffusionConfig{});
  auto oracle = flat_two_level_oracle(d, -0.5, 0.5);
  auto input = torch::full({kImages, 1, kSide, kSide}, 0.5);
  for (double strength : {0.3, 1.0}) {
    SamplerOptions o;
    o.sampler = Sampler::ddim;
    auto plan = make_plan(d, o);
    auto noise = noise_for(11);
    if (strength < 1.0) {
      plan = plan_from(plan, strength_timestep(1000, strength));
      o.start = d.q_sample(input, timestep_batch(plan.timesteps[0], input), noise.next());
    }
    auto x = sample_ddim(d, oracle, plan, noise, o);
    const double high = (x.mean({1, 2, 3}) > 0).to(torch::kFloat64).mean().item<double>();
    if (strength < 1.0) {
      EXPECT_EQ(high, 1.0);
    } else {
      EXPECT_NEAR(high, 0.5, 3.5 * std::sqrt(0.25 / kImages));
    }
  }
}

// For data N(μ, s²) DDIM decoding is a known map; inversion with refinement is its inverse.
TEST(Inversion, DecodingTheLatentsGivesTheImagesBackAndRefiningHelps) {
  GaussianDiffusion d(DiffusionConfig{});
  const double mu = 0.3, s = 0.2;
  auto oracle = [&d, mu, s](const torch::Tensor& x, const torch::Tensor& t) {
    auto ab = d.table().alphas_cumprod.index_select(0, t).view({-1, 1, 1, 1});
    return torch::sqrt(1 - ab) * (x - torch::sqrt(ab) * mu) / (ab * s * s + 1 - ab);
  };
  SamplerOptions o;
  o.sampler = Sampler::ddim;
  o.clip_denoised = false;
  const auto plan = make_plan(d, o);
  auto images = mu + s * torch::randn({4, 1, kSide, kSide});
  double error[2];
  for (int64_t refine : {0, 3}) {
    o.start = invert_ddim(d, oracle, plan, images, refine);
    auto noise = noise_for(1);
    error[refine ? 1 : 0] =
        (sample_ddim(d, oracle, plan, noise, o) - images).abs().max().item<double>();
    // The latents are standard normal, as the noise that draws the data is.
    // (Within DDIM's 50-step discretisation error of the exact flow: 12% on the data's spread.)
    EXPECT_NEAR(o.start.std().item<double>(), 1.0, 0.2);
  }
  EXPECT_LT(error[1], 1e-3);
  EXPECT_LT(error[1], error[0]);
}

}  // namespace
}  // namespace ddpm
