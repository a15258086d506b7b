// End-to-end test of `ddpm eval`: bits/dim of a trained tiny model against an untrained one.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "test_util.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;
using test::run_ddpm;

nlohmann::json read_json(const std::string& path) {
  return nlohmann::json::parse(test::read_file(path));
}

TEST(EvalCli, TrainingImprovesBitsPerDimAndTheReportSaysSo) {
  test::TempDir dir;
  test::make_emoji_folder(dir / "all", 80);
  fs::create_directories(dir / "heldout");
  int i = 0;
  for (const auto& e : fs::directory_iterator(dir.path() / "all")) {
    if (i++ % 5 == 0) fs::rename(e.path(), dir.path() / "heldout" / e.path().filename());
  }
  ASSERT_EQ(run_ddpm(test::tiny_train_args(dir / "untrained", dir / "all", "--set train.steps=0"))
                .exit_code,
            0);
  auto trained =
      run_ddpm(test::tiny_train_args(dir / "trained", dir / "all", "--set train.steps=150"));
  ASSERT_EQ(trained.exit_code, 0) << trained.err;

  const std::string common =
      " --data '" + (dir / "heldout") + "' --subset 20 --threads 1 --report ";
  auto a = run_ddpm("eval --ckpt '" + (dir / "untrained/last.pt") + "'" + common + "'" +
                    (dir / "a.json") + "'");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  auto b = run_ddpm("eval --ckpt '" + (dir / "trained/last.pt") + "'" + common + "'" +
                    (dir / "b.json") + "'");
  ASSERT_EQ(b.exit_code, 0) << b.err;
  auto ra = read_json(dir / "a.json")["bits_per_dim"],
       rb = read_json(dir / "b.json")["bits_per_dim"];
  EXPECT_EQ(read_json(dir / "b.json")["images"], 16);
  EXPECT_EQ(read_json(dir / "b.json")["step"], 150);
  // The untrained checkpoint predicts ε = 0 exactly (zero-initialised output layer), so its bound
  // is the report's own untrained reference, to rounding.
  EXPECT_NEAR(ra["total"].get<double>(), ra["untrained_model"].get<double>(), 1e-4);
  // Training makes the bound far better, and the report says by how much.
  EXPECT_LT(rb["total"].get<double>(), ra["total"].get<double>() - 2.0);
  EXPECT_GT(rb["improvement_over_untrained"].get<double>(), 2.0);
  EXPECT_NE(b.out.find("bits/dim better"), std::string::npos) << b.out;
  EXPECT_NE(a.out.find("this checkpoint is no better"), std::string::npos) << a.out;
  // The parts add up.
  const double parts = rb["prior_L_T"].get<double>() + rb["decoder_L_0"].get<double>() +
                       rb["middle_sum"].get<double>();
  EXPECT_NEAR(parts, rb["total"].get<double>(), 1e-6);

  auto missing = run_ddpm("eval --ckpt '" + (dir / "trained/last.pt") + "' --data /nonexistent");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("--data /nonexistent: the folder does not exist"), std::string::npos)
      << missing.err;
}

}  // namespace
}  // namespace ddpm
