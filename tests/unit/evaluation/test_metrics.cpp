#include <gtest/gtest.h>
#include <torch/script.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "ddpm/base/error.h"
#include "ddpm/evaluation/features.h"
#include "ddpm/evaluation/metrics.h"
#include "fixtures.h"
#include "test_util.h"

namespace ddpm {
namespace {

using test::make_feature_module;

FeatureStats stats(torch::Tensor mean, torch::Tensor cov) { return {mean, cov, 100}; }

TEST(Metrics, FrechetDistanceOfDiagonalGaussiansMatchesTheFormula) {
  auto m1 = torch::tensor({0.0, 1.0, 2.0}, torch::kFloat64),
       m2 = torch::tensor({1.0, 1.0, 0.0}, torch::kFloat64);
  auto v1 = torch::tensor({1.0, 4.0, 0.25}, torch::kFloat64),
       v2 = torch::tensor({9.0, 1.0, 0.25}, torch::kFloat64);
  // ‖μ1−μ2‖² + Σ(√a − √b)² for commuting (diagonal) covariances.
  const double expected = (1 + 0 + 4) + (std::pow(1 - 3, 2) + std::pow(2 - 1, 2) + 0);
  EXPECT_NEAR(frechet_distance(stats(m1, torch::diag(v1)), stats(m2, torch::diag(v2))), expected,
              1e-9);
}

TEST(Metrics, FrechetDistanceIsZeroForIdenticalStatsAndRotationInvariant) {
  torch::manual_seed(0);
  auto a = torch::randn({5, 5}, torch::kFloat64);
  auto cov = a.mm(a.t()) + 0.1 * torch::eye(5, torch::kFloat64);
  auto mean = torch::randn({5}, torch::kFloat64);
  EXPECT_NEAR(frechet_distance(stats(mean, cov), stats(mean, cov)), 0.0, 1e-8);
  // Rotating both Gaussians by the same orthogonal Q leaves the distance unchanged.
  auto b = torch::randn({5, 5}, torch::kFloat64);
  auto cov2 = b.mm(b.t());
  auto q = std::get<0>(torch::linalg_qr(torch::randn({5, 5}, torch::kFloat64)));
  const double d = frechet_distance(stats(mean, cov), stats(mean * 0, cov2));
  const double rotated = frechet_distance(stats(q.mv(mean), q.mm(cov).mm(q.t())),
                                          stats(mean * 0, q.mm(cov2).mm(q.t())));
  EXPECT_NEAR(d, rotated, 1e-8 * d);
  // And a singular covariance (rank 1) is handled.
  // (Square roots of round-off eigenvalues ~1e-15 contribute ~1e-7: relative to the trace, tiny.)
  auto v = torch::randn({5, 1}, torch::kFloat64);
  auto rank1 = v.mm(v.t());
  EXPECT_NEAR(frechet_distance(stats(mean, rank1), stats(mean, rank1)), 0.0,
              1e-6 * rank1.trace().item<double>());
}

TEST(Metrics, FeatureStatsAreMeanAndUnbiasedCovariance) {
  auto f = torch::tensor({{1.0, 2.0}, {3.0, 6.0}, {5.0, 4.0}}, torch::kFloat64);
  auto s = feature_stats(f);
  EXPECT_TRUE(torch::allclose(s.mean, torch::tensor({3.0, 4.0}, torch::kFloat64)));
  // cov = Σ (x − μ)(x − μ)ᵀ / (N − 1)
  EXPECT_TRUE(torch::allclose(s.cov, torch::tensor({{4.0, 2.0}, {2.0, 4.0}}, torch::kFloat64)));
  test::TempDir dir;
  save_feature_stats(dir / "s.pt", s);
  auto back = load_feature_stats(dir / "s.pt");
  EXPECT_TRUE(torch::equal(back.cov, s.cov));
  EXPECT_EQ(back.count, 3);
}

TEST(Metrics, WeightedFeatureStatsFollowTheReliabilityWeightedClosedForm) {
  auto f = torch::tensor({{1.0, 2.0}, {3.0, 6.0}, {5.0, 4.0}}, torch::kFloat64);
  // Equal weights (of any scale) are the unweighted statistics.
  auto equal = feature_stats(f, torch::full({3}, 7.0, torch::kFloat64));
  auto plain = feature_stats(f);
  EXPECT_TRUE(torch::allclose(equal.mean, plain.mean));
  EXPECT_TRUE(torch::allclose(equal.cov, plain.cov));
  // 1-D: x = (0, 4, 8), w = (2, 1, 1)/4: μ = 3, Σ w(x − μ)² = 11, Σ w² = 0.375, so 11/0.625.
  auto x = torch::tensor({{0.0}, {4.0}, {8.0}}, torch::kFloat64);
  auto w = feature_stats(x, torch::tensor({2.0, 1.0, 1.0}));
  EXPECT_NEAR(w.mean.item<double>(), 3.0, 1e-12);
  EXPECT_NEAR(w.cov.item<double>(), 17.6, 1e-12);
  EXPECT_EQ(w.count, 3);
  // A zero weight drops its vector.
  auto dropped = feature_stats(f, torch::tensor({1.0, 1.0, 0.0}));
  auto two = feature_stats(f.slice(0, 0, 2));
  EXPECT_TRUE(torch::allclose(dropped.mean, two.mean));
  EXPECT_TRUE(torch::allclose(dropped.cov, two.cov));
  EXPECT_EQ(dropped.count, 2);
  EXPECT_THROW(feature_stats(f, torch::tensor({1.0, 0.0, 0.0})), Error);
  EXPECT_THROW(feature_stats(f, torch::tensor({1.0, -1.0, 1.0})), Error);
  EXPECT_THROW(feature_stats(f, torch::tensor({1.0, 1.0})), Error);
}

TEST(Metrics, KidIsUnbiasedNearZeroForOneDistributionAndPositiveForTwo) {
  torch::manual_seed(1);
  auto a = torch::randn({2000, 8}, torch::kFloat64), b = torch::randn({2000, 8}, torch::kFloat64);
  const double same = kernel_inception_distance(a, b, 50, 500, 0);
  const double shifted = kernel_inception_distance(a, b + 0.5, 50, 500, 0);
  EXPECT_LT(std::abs(same), 0.01);
  EXPECT_GT(shifted, 0.1);
  EXPECT_GT(shifted, 20 * std::abs(same));
}

TEST(Metrics, TorchScriptFeatureNetworkRuns) {
  test::TempDir dir;
  FeatureNetwork net(make_feature_module(dir / "f.pt"), torch::kCPU, 8);
  auto images = torch::zeros({3, 1, 16, 16});  // grey, mid-level
  auto f = net.features(images, 2);
  ASSERT_EQ(f.sizes(), (std::vector<int64_t>{3, 12}));
  EXPECT_NEAR(f.mean().item<double>(), 127.5, 1e-4);  // [-1, 1] → [0, 255]
  EXPECT_THROW(FeatureNetwork(dir / "missing.pt", torch::kCPU, 0), Error);
  test::write_file(dir / "junk.pt", "junk");
  EXPECT_THROW(FeatureNetwork(dir / "junk.pt", torch::kCPU, 0), Error);
}

}  // namespace
}  // namespace ddpm
