#include <gtest/gtest.h>

#include "test_util.h"

namespace ddpm {
namespace {

using test::run_ddpm;

TEST(Cli, HelpListsCommands) {
  auto r = run_ddpm("--help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("usage: ddpm <command>"), std::string::npos);
  EXPECT_NE(r.out.find("info"), std::string::npos);
  auto c = run_ddpm("info --help");
  EXPECT_EQ(c.exit_code, 0);
  EXPECT_NE(c.out.find("--config"), std::string::npos);
}

TEST(Cli, BadFlagGivesUsageAndNonZeroExit) {
  auto r = run_ddpm("info --no-such-flag");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no-such-flag"), std::string::npos);
  EXPECT_NE(r.err.find("Usage:"), std::string::npos);
  auto u = run_ddpm("frobnicate");
  EXPECT_EQ(u.exit_code, 2);
  EXPECT_NE(u.err.find("unknown command 'frobnicate'"), std::string::npos);
}

TEST(Cli, InfoReportsTheCifar10ParameterCount) {
  auto r = run_ddpm("info --config configs/cifar10.json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("(35.75M)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"base_channels\": 128"), std::string::npos);
}

TEST(Cli, ConfigErrorsAreOneLine) {
  auto r = run_ddpm("info --config configs/cifar10.json --set train.lr=-1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "ddpm: error: train.lr = -1: must be in (0, 1]\n");
  auto m = run_ddpm("info --config /nonexistent.json");
  EXPECT_EQ(m.exit_code, 1);
  EXPECT_EQ(m.err, "ddpm: error: /nonexistent.json: config file not found\n");
}

}  // namespace
}  // namespace ddpm
