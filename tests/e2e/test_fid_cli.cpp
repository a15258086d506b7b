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

TEST(Metrics, EvalFidEndToEndWithATorchScriptFeatureNetwork) {
  test::TempDir dir;
  test::make_emoji_folder(dir / "emoji", 24);
  auto r = test::run_ddpm(test::tiny_train_args(dir / "run", dir / "emoji", "--set train.steps=5"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string features = make_feature_module(dir / "f.pt");
  // On the CPU, where sampling is bit-reproducible (cuDNN's autotuned kernels are not).
  const std::string base = "eval --threads 1 --device cpu --ckpt '" + (dir / "run/last.pt") +
                           "' --data '" + (dir / "emoji") + "' --fid --features '" + features +
                           "' --features-size 0 --n 16 --steps 4 --ref-stats '" + (dir / "ref.pt") +
                           "' --report ";
  auto first = test::run_ddpm(base + "'" + (dir / "a.json") + "'");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  auto report = nlohmann::json::parse(test::read_file(dir / "a.json"));
  const double fid = report["fid"]["fid"].get<double>();
  EXPECT_TRUE(std::isfinite(fid));
  EXPECT_GT(fid, 0.0);
  EXPECT_EQ(report["fid"]["feature_dim"], 12);
  EXPECT_EQ(report["fid"]["samples"], 16);
  EXPECT_FALSE(report.contains("bits_per_dim"));  // --fid alone skips the NLL
  // The saved reference statistics are reused and give the same number.
  auto second = test::run_ddpm(base + "'" + (dir / "b.json") + "'");
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_NE(second.err.find("reference statistics from"), std::string::npos);
  EXPECT_DOUBLE_EQ(
      nlohmann::json::parse(test::read_file(dir / "b.json"))["fid"]["fid"].get<double>(), fid);
  // Without a feature network the error says what to get.
  auto missing = test::run_ddpm("eval --ckpt '" + (dir / "run/last.pt") + "' --data '" +
                                (dir / "emoji") + "' --fid");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("--fid needs --features FILE"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace ddpm
