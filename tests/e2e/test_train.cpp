#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "ddpm/base/compat.h"
#include "ddpm/base/error.h"
#include "ddpm/io/checkpoint.h"
#include "ddpm/model/unet.h"
#include "test_util.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;
using test::run_ddpm;
using test::tiny_train_args;

void expect_same_parameters(torch::nn::Module& a, torch::nn::Module& b, const std::string& what) {
  auto pa = a.named_parameters(), pb = b.named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (const auto& item : pa) {
    EXPECT_TRUE(torch::equal(item.value(), pb[item.key()])) << what << " " << item.key();
  }
}

// Loads an AdamW over a fresh model's parameters from a checkpoint and returns its per-parameter
// state tensors in parameter order.
std::vector<torch::Tensor> optimizer_state(const Checkpoint& ckpt) {
  UNet model(ckpt.meta().config.model);
  torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(1e-3));
  ckpt.load_optimizer(opt, torch::kCPU);
  std::vector<torch::Tensor> out;
  for (const auto& p : model->parameters()) {
    auto& state = static_cast<torch::optim::AdamWParamState&>(
        *opt.state().at(compat::optimizer_state_key(p)));
    out.push_back(state.exp_avg());
    out.push_back(state.exp_avg_sq());
    out.push_back(torch::tensor(state.step()));
  }
  return out;
}

class TrainTest : public ::testing::Test {
 protected:
  void SetUp() override { test::make_emoji_folder(data(), 64); }
  std::string data() const { return dir_ / "emoji"; }
  test::TempDir dir_;
};

TEST_F(TrainTest, ResumeIsBitIdenticalToAnUninterruptedRun) {
  // Held-out evaluation runs in both: it must not disturb the training RNG. On the CPU, where
  // every kernel is deterministic; cuDNN's autotuned convolutions are not bit-reproducible.
  const std::string common =
      "--set train.device=cpu --set model.dropout=0.1 --set train.checkpoint_every=7 "
      "--set train.batch_size=8 --set train.log_every=5 "
      "--set train.eval_every=10 --set train.eval_images=8 "
      "--set train.eval_bpd_subset=5 --set data.heldout_path='" +
      data() + "'";
  auto full = run_ddpm(tiny_train_args(dir_ / "full", data(), common + " --set train.steps=30"));
  ASSERT_EQ(full.exit_code, 0) << full.err;
  auto half = run_ddpm(tiny_train_args(dir_ / "half", data(), common + " --set train.steps=15"));
  ASSERT_EQ(half.exit_code, 0) << half.err;
  auto rest =
      run_ddpm(tiny_train_args(dir_ / "half", data(), common + " --set train.steps=30 --resume"));
  ASSERT_EQ(rest.exit_code, 0) << rest.err;
  EXPECT_NE(rest.err.find("resumed from"), std::string::npos);

  auto a = Checkpoint::open(dir_ / "full/last.pt");
  auto b = Checkpoint::open(dir_ / "half/last.pt");
  EXPECT_EQ(a.meta().step, 30);
  EXPECT_EQ(b.meta().step, 30);
  EXPECT_EQ(a.meta().data.index, b.meta().data.index);
  EXPECT_EQ(a.meta().data.epoch, b.meta().data.epoch);
  EXPECT_EQ(a.meta().ema_updates, b.meta().ema_updates);
  for (const char* part : {"model", "ema"}) {
    UNet ma(a.meta().config.model), mb(b.meta().config.model);
    a.load_module(part, *ma, torch::kCPU);
    b.load_module(part, *mb, torch::kCPU);
    expect_same_parameters(*ma, *mb, part);
  }
  auto sa = optimizer_state(a), sb = optimizer_state(b);
  ASSERT_EQ(sa.size(), sb.size());
  for (size_t i = 0; i < sa.size(); ++i) EXPECT_TRUE(torch::equal(sa[i], sb[i])) << i;
  // Guard against a vacuous pass: training moved the weights away from their initial values.
  UNet fresh(a.meta().config.model);
  UNet trained(a.meta().config.model);
  a.load_module("model", *trained, torch::kCPU);
  EXPECT_FALSE(torch::equal(fresh->named_parameters()["conv_out.weight"],
                            trained->named_parameters()["conv_out.weight"]));
}

TEST_F(TrainTest, RefusesToClobberAndNeedsACheckpointToResume) {
  auto resume = run_ddpm(tiny_train_args(dir_ / "run", data(), "--set train.steps=2 --resume"));
  EXPECT_EQ(resume.exit_code, 1);
  EXPECT_NE(resume.err.find("no checkpoint to resume from"), std::string::npos) << resume.err;
  ASSERT_EQ(run_ddpm(tiny_train_args(dir_ / "run", data(), "--set train.steps=2")).exit_code, 0);
  auto again = run_ddpm(tiny_train_args(dir_ / "run", data(), "--set train.steps=2"));
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("already holds a run; continue it with --resume"), std::string::npos)
      << again.err;
  // A model that differs from the checkpoint's is refused with the key named.
  auto other = run_ddpm(tiny_train_args(
      dir_ / "run", data(), "--set train.steps=4 --set model.base_channels=24 --resume"));
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_NE(other.err.find("model.base_channels = 16 but the config has 24"), std::string::npos)
      << other.err;
  // --resume PATH with no --config uses the checkpoint's own config.
  auto by_path = run_ddpm("train --resume '" + (dir_ / "run/last.pt") + "' --set train.steps=4");
  EXPECT_EQ(by_path.exit_code, 0) << by_path.err;
  EXPECT_EQ(Checkpoint::open(dir_ / "run/last.pt").meta().step, 4);
}

TEST_F(TrainTest, SigintSavesAndExitsZeroThenResumeContinues) {
  const std::string log = dir_ / "log.txt";
  pid_t pid = test::spawn_ddpm(
      tiny_train_args(dir_ / "run", data(), "--set train.steps=100000 --set train.log_every=1"),
      log);
  // Wait until training is under way (a metrics row exists).
  for (int i = 0; i < 600 && !fs::exists(dir_ / "run/metrics.jsonl"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  kill(pid, SIGINT);
  EXPECT_EQ(test::wait_exit(pid), 0) << test::read_file(log);
  const std::string output = test::read_file(log);
  EXPECT_NE(output.find("stopped by signal 2"), std::string::npos) << output;
  const int64_t saved = Checkpoint::open(dir_ / "run/last.pt").meta().step;
  EXPECT_GT(saved, 0);
  auto resumed = run_ddpm(tiny_train_args(
      dir_ / "run", data(), "--set train.steps=" + std::to_string(saved + 3) + " --resume"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("at step " + std::to_string(saved)), std::string::npos) << resumed.err;
  EXPECT_EQ(Checkpoint::open(dir_ / "run/last.pt").meta().step, saved + 3);
}

TEST_F(TrainTest, SigkillAtAnyMomentLeavesALoadableCheckpoint) {
  // Checkpoint every step, so kills land during writes too.
  ASSERT_EQ(run_ddpm(tiny_train_args(dir_ / "run", data(), "--set train.steps=1")).exit_code, 0);
  // DDPM_KILL_TRIALS raises the trial count for a stress run (scripts/dev/kill_stress.sh).
  const char* trials_env = std::getenv("DDPM_KILL_TRIALS");
  const int trials = trials_env ? std::max(1, std::atoi(trials_env)) : 8;
  std::mt19937 rng(trials_env ? std::random_device{}() : 42);
  int64_t last_step = 1;
  int mid_write = 0;
  auto metric_rows = [&] {
    std::ifstream in(dir_ / "run/metrics.jsonl");
    return std::count(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>(), '\n');
  };
  for (int trial = 0; trial < trials; ++trial) {
    const auto rows_before = metric_rows();
    pid_t pid =
        test::spawn_ddpm(tiny_train_args(dir_ / "run", data(),
                                         "--set train.steps=100000 --set train.checkpoint_every=1 "
                                         "--set train.log_every=1 --resume"),
                         dir_ / "log.txt");
    // Wait until this process has trained a step, then kill it at a random moment: with a
    // checkpoint written every step, many kills land in the middle of a write.
    for (int i = 0; i < 1200 && metric_rows() == rows_before; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 400));
    kill(pid, SIGKILL);
    EXPECT_EQ(test::wait_exit(pid), 128 + SIGKILL);
    for (const auto& e : fs::directory_iterator(dir_.path() / "run")) {
      if (e.path().filename().string().find(".tmp.") != std::string::npos) {
        ++mid_write;  // this kill landed while a checkpoint was being written
        break;
      }
    }
    Checkpoint ckpt = Checkpoint::open(dir_ / "run/last.pt");  // throws if damaged
    UNet model(ckpt.meta().config.model);
    ckpt.load_module("ema", *model, torch::kCPU);
    EXPECT_GE(ckpt.meta().step, last_step);
    last_step = ckpt.meta().step;
  }
  EXPECT_GT(last_step, 1);
  std::printf(
      "%d SIGKILLs, %d of them during a checkpoint write; last.pt loaded after each, "
      "reaching step %lld\n",
      trials, mid_write, static_cast<long long>(last_step));
  // The next run continues and clears the temporary files that killed writers left behind.
  auto resumed = run_ddpm(tiny_train_args(
      dir_ / "run", data(), "--set train.steps=" + std::to_string(last_step + 2) + " --resume"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  for (const auto& e : fs::directory_iterator(dir_.path() / "run")) {
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();
  }
}

TEST_F(TrainTest, TrainingLowersTheLossAndTheHeldOutBound) {
  test::make_emoji_folder(dir_ / "heldout", 16);
  auto r = run_ddpm(
      tiny_train_args(dir_ / "run", data(),
                      "--set train.steps=300 --set train.log_every=25 --set train.eval_every=150 "
                      "--set train.eval_images=16 --set data.heldout_path='" +
                          (dir_ / "heldout") + "'"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("held-out at step 150: loss"), std::string::npos) << r.err;
  const auto losses = test::metric_values(dir_ / "run", "loss");
  const auto heldout_bpd = test::metric_values(dir_ / "run", "heldout_bpd_ema");
  ASSERT_EQ(heldout_bpd.size(), 2u);
  EXPECT_LT(heldout_bpd[1], heldout_bpd[0]);
  ASSERT_EQ(losses.size(), 12u);
  // A zero-initialised ε-predictor starts at E‖ε‖² = 1; after 300 steps the loss must be far lower.
  EXPECT_GT(losses.front(), 0.3);
  EXPECT_LT(losses.back(), 0.2);
  EXPECT_LT(losses.back(), 0.4 * losses.front());
}

}  // namespace
}  // namespace ddpm
