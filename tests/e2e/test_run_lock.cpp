// One writer per run folder (issue 42): a second `ddpm train` on a folder that a run holds exits at
// once naming the holder, new or resumed, started together or later; the holder's checkpoints stay
// intact; a SIGKILLed holder's lock dies with it.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "ddpm/io/checkpoint.h"
#include "test_util.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;

class RunLock : public ::testing::Test {
 protected:
  void SetUp() override { test::make_emoji_folder(dir_ / "emoji", 16); }
  std::string train(const std::string& extra) {
    return test::tiny_train_args(dir_ / "run", dir_ / "emoji", extra);
  }
  // A run that trains until stopped, once it has saved a checkpoint.
  pid_t start_holder(const std::string& log) {
    pid_t pid = test::spawn_ddpm(
        train("--set train.steps=100000 --set train.log_every=1 --set train.checkpoint_every=1"),
        log);
    for (int i = 0; i < 1200 && !fs::exists(dir_.path() / "run/last.pt"); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return pid;
  }
  test::TempDir dir_;
};

TEST_F(RunLock, ASecondTrainOnAHeldFolderExitsNamingTheHolder) {
  const pid_t holder = start_holder(dir_ / "holder.txt");
  const std::string who = "pid " + std::to_string(holder);
  test::expect_one_line_error(test::run_ddpm(train("--set train.steps=5")), who,
                              "a second new run");
  test::expect_one_line_error(test::run_ddpm(train("--set train.steps=5 --resume")), who,
                              "a second resume");
  kill(holder, SIGTERM);
  EXPECT_EQ(test::wait_exit(holder), 0) << test::read_file(dir_ / "holder.txt");
  EXPECT_GT(Checkpoint::open(dir_ / "run/last.pt").meta().step, 0);  // intact
}

TEST_F(RunLock, OfTwoRunsStartedTogetherExactlyOneRuns) {
  const pid_t a = test::spawn_ddpm(train("--set train.steps=20"), dir_ / "a.txt");
  const pid_t b = test::spawn_ddpm(train("--set train.steps=20"), dir_ / "b.txt");
  const int exit_a = test::wait_exit(a), exit_b = test::wait_exit(b);
  EXPECT_EQ((exit_a == 0) + (exit_b == 0), 1) << test::read_file(dir_ / "a.txt") << "\n"
                                              << test::read_file(dir_ / "b.txt");
  const std::string refused = test::read_file(dir_ / (exit_a == 0 ? "b.txt" : "a.txt"));
  EXPECT_TRUE(refused.find("is in use by another ddpm train") != std::string::npos ||
              refused.find("already holds a run") != std::string::npos)
      << refused;
  EXPECT_EQ(Checkpoint::open(dir_ / "run/last.pt").meta().step, 20);
}

TEST_F(RunLock, AKilledHoldersLockDoesNotBlockTheNextRun) {
  const pid_t holder = start_holder(dir_ / "holder.txt");
  kill(holder, SIGKILL);
  EXPECT_EQ(test::wait_exit(holder), 128 + SIGKILL);
  auto resumed = test::run_ddpm(train("--set train.steps=2 --resume"));
  EXPECT_EQ(resumed.exit_code, 0) << resumed.err;
}

}  // namespace
}  // namespace ddpm
