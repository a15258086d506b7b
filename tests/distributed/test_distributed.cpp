// Data-parallel training on c10d/Gloo over loopback: 2 workers against 1 process, exact resume,
// resume across worker counts, lost and hung workers, signals, rank 1's silence, and torchrun.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "ddpm/base/compat.h"
#include "ddpm/base/error.h"
#include "ddpm/distributed/distributed.h"
#include "ddpm/distributed/launcher.h"
#include "ddpm/io/checkpoint.h"
#include "ddpm/model/unet.h"
#include "test_util.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using test::run_ddpm;
using test::tiny_train_args;

// Batch 8 of 16×16 emoji, no dropout (its masks are drawn per worker), a checkpoint every 3 steps;
// the fault tests shorten train.dist_timeout to 5 s;
// Gloo on the CPU even where a GPU is present (two workers cannot share one GPU under NCCL).
const std::string kCommon =
    "--set train.device=cpu --set train.batch_size=8 --set train.log_every=1 "
    "--set train.checkpoint_every=3 --set train.warmup_steps=2";

struct Weights {
  std::vector<torch::Tensor> model, ema, optimizer;
  CheckpointMeta meta;
};

Weights load(const std::string& path) {
  auto ckpt = Checkpoint::open(path);
  Weights w;
  w.meta = ckpt.meta();
  UNet model(w.meta.config.model), ema(w.meta.config.model);
  ckpt.load_module("model", *model, torch::kCPU);
  ckpt.load_module("ema", *ema, torch::kCPU);
  w.model = model->parameters();
  w.ema = ema->parameters();
  torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(1e-3));
  ckpt.load_optimizer(opt, torch::kCPU);
  for (const auto& p : model->parameters()) {
    auto& s = static_cast<torch::optim::AdamWParamState&>(
        *opt.state().at(compat::optimizer_state_key(p)));
    w.optimizer.push_back(s.exp_avg());
    w.optimizer.push_back(s.exp_avg_sq());
  }
  return w;
}

double max_difference(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0.0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    worst = std::max(worst, (a[i] - b[i]).abs().max().item<double>());
  }
  return worst;
}

bool identical(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!torch::equal(a[i], b[i])) return false;
  }
  return true;
}

// Same step and data position, and weights equal up to the rounding of summing the gradient in
// another order (fp32).
void expect_same_training(const Weights& a, const Weights& b, int64_t step) {
  EXPECT_EQ(a.meta.step, step);
  EXPECT_EQ(b.meta.step, step);
  EXPECT_EQ(a.meta.data.epoch, b.meta.data.epoch);
  EXPECT_EQ(a.meta.data.index, b.meta.data.index);
  EXPECT_EQ(a.meta.ema_updates, b.meta.ema_updates);
  const double model = max_difference(a.model, b.model), ema = max_difference(a.ema, b.ema);
  EXPECT_LT(model, 2e-5) << "model";
  EXPECT_LT(ema, 2e-5) << "ema";
  std::cerr << "max |difference| after " << step << " steps: model " << model << ", EMA " << ema
            << "\n";
}

// The same losses, averaged over the workers: Adam with clipping would hide gradients summed
// instead of averaged, the logged loss does not.
void expect_same_losses(const std::string& a, const std::string& b) {
  const auto la = test::metric_values(a, "loss"), lb = test::metric_values(b, "loss");
  ASSERT_EQ(la.size(), lb.size());
  ASSERT_FALSE(la.empty());
  for (size_t i = 0; i < la.size(); ++i)
    EXPECT_NEAR(la[i], lb[i], 1e-5 * la[i]) << "log line " << i;
}

class DistributedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!DDPM_WITH_GLOO) GTEST_SKIP() << "this build has no Gloo (no gloo headers at build time)";
    test::make_emoji_folder(data(), 48);
  }
  std::string data() const { return dir_ / "emoji"; }
  std::string args(const std::string& run, const std::string& extra) const {
    return tiny_train_args(dir_ / run, data(), kCommon + " " + extra);
  }
  test::CommandResult train(const std::string& run, int steps, int workers, bool resume = false) {
    std::string extra = "--set train.steps=" + std::to_string(steps);
    if (workers > 0) extra += " --nproc " + std::to_string(workers);
    if (resume) extra += " --resume";
    auto r = run_ddpm(args(run, extra));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r;
  }
  test::TempDir dir_;
};

TEST_F(DistributedTest, TwoWorkersMatchOneProcessWithTheSameGlobalBatch) {
  train("one", 6, 0);
  auto two = train("two", 6, 2);
  EXPECT_NE(two.err.find("× 2 workers (4 each)"), std::string::npos) << two.err;
  expect_same_training(load(dir_ / "one/last.pt"), load(dir_ / "two/last.pt"), 6);
  expect_same_losses(dir_ / "one", dir_ / "two");
}

// With gradient accumulation the allreduce comes once per optimizer step, after the last
// micro-batch: still the single process's training.
TEST_F(DistributedTest, TwoWorkersMatchOneProcessWithGradientAccumulation) {
  const std::string accumulate = " --set train.grad_accum=2 --set train.steps=5";
  ASSERT_EQ(run_ddpm(args("one", accumulate)).exit_code, 0);
  ASSERT_EQ(run_ddpm(args("two", accumulate + " --nproc 2")).exit_code, 0);
  const Weights one = load(dir_ / "one/last.pt"), two = load(dir_ / "two/last.pt");
  expect_same_training(one, two, 5);
  expect_same_losses(dir_ / "one", dir_ / "two");
  // 5 steps × 2 micro-batches × 8 images = 80 of 48 images: epoch 1, 32 in.
  EXPECT_EQ(two.meta.data.epoch, 1);
  EXPECT_EQ(two.meta.data.index, 32);
}

// A non-finite loss on the workers is one decision for all of them: the step is skipped, counted
// once, and training goes on in step.
TEST_F(DistributedTest, ANonFiniteStepIsSkippedByEveryWorker) {
  auto r = run_ddpm(args("run", "--set train.steps=5 --nproc 2"), DDPM_SOURCE_DIR,
                    "export DDPM_INJECT_NONFINITE=2;");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("warning: non-finite loss at step 2, step skipped (1 so far)"),
            std::string::npos)
      << r.err;
  const Weights w = load(dir_ / "run/last.pt");
  EXPECT_EQ(w.meta.step, 5);
  EXPECT_EQ(w.meta.nonfinite_skipped, 1);
  for (const auto& t : w.model) EXPECT_TRUE(torch::isfinite(t).all().item<bool>());
}

TEST_F(DistributedTest, TwoWorkerResumeIsBitIdentical) {
  train("full", 8, 2);
  train("half", 4, 2);
  auto rest = train("half", 8, 2, /*resume=*/true);
  EXPECT_NE(rest.err.find("resumed from"), std::string::npos) << rest.err;
  const Weights a = load(dir_ / "full/last.pt"), b = load(dir_ / "half/last.pt");
  EXPECT_EQ(b.meta.step, 8);
  EXPECT_EQ(a.meta.data.index, b.meta.data.index);
  EXPECT_TRUE(identical(a.model, b.model));
  EXPECT_TRUE(identical(a.ema, b.ema));
  EXPECT_TRUE(identical(a.optimizer, b.optimizer));
}

// Fine-tuning with --nproc: rank 0 reads the --init weights and every worker starts from them, so
// two workers train as one process does from the same weights (a worker left at its random
// initialisation would pull the averaged gradients elsewhere).
TEST_F(DistributedTest, FineTuningStartsEveryWorkerFromTheInitWeights) {
  train("source", 4, 0);
  const std::string init = " --set train.steps=4 --init '" + (dir_ / "source/last.pt") + "'";
  auto one = run_ddpm(args("one", init));
  ASSERT_EQ(one.exit_code, 0) << one.err;
  auto two = run_ddpm(args("two", init + " --nproc 2"));
  ASSERT_EQ(two.exit_code, 0) << two.err;
  EXPECT_NE(two.err.find("initialised from"), std::string::npos) << two.err;
  expect_same_training(load(dir_ / "one/last.pt"), load(dir_ / "two/last.pt"), 4);
  expect_same_losses(dir_ / "one", dir_ / "two");
}

TEST_F(DistributedTest, RunsResumeWithAnotherWorkerCount) {
  train("reference", 8, 0);
  train("two_then_one", 4, 2);
  train("two_then_one", 8, 0, /*resume=*/true);
  train("one_then_two", 4, 0);
  train("one_then_two", 8, 2, /*resume=*/true);
  const Weights reference = load(dir_ / "reference/last.pt");
  expect_same_training(reference, load(dir_ / "two_then_one/last.pt"), 8);
  expect_same_training(reference, load(dir_ / "one_then_two/last.pt"), 8);
  // 8 steps of 8 images over 48 images: epoch 1, 16 images in.
  EXPECT_EQ(reference.meta.data.epoch, 1);
  EXPECT_EQ(reference.meta.data.index, 16);
}

// Starts rank 1 of a 2-worker job by hand, as torchrun would, in the background; returns its pid.
pid_t start_rank1(const test::TempDir& dir, int port, const std::string& train_args,
                  const std::string& log) {
  const std::string pid_file = dir / "rank1.pid";
  const std::string command = "cd '" + std::string(DDPM_SOURCE_DIR) +
                              "' && RANK=1 WORLD_SIZE=2 LOCAL_RANK=1 LOCAL_WORLD_SIZE=2 "
                              "MASTER_ADDR=127.0.0.1 MASTER_PORT=" +
                              std::to_string(port) + " '" + DDPM_BINARY + "' " + train_args +
                              " >'" + log + "' 2>&1 & echo $! >'" + pid_file + "'";
  EXPECT_EQ(std::system(command.c_str()), 0);
  return static_cast<pid_t>(std::stol(test::read_file(pid_file)));
}

// Rank 0 of that job, in the foreground; afterwards rank 1 has ended too.
test::CommandResult run_rank0(int port, const std::string& train_args, pid_t rank1) {
  auto r = run_ddpm(train_args, DDPM_SOURCE_DIR,
                    "export RANK=0 WORLD_SIZE=2 LOCAL_RANK=0 LOCAL_WORLD_SIZE=2 "
                    "MASTER_ADDR=127.0.0.1 MASTER_PORT=" +
                        std::to_string(port) + ";");
  for (int i = 0; i < 100 && kill(rank1, 0) == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return r;
}

// Rank 1 with its own run folder and data copy: afterwards neither holds anything it wrote, and
// it printed nothing.
TEST_F(DistributedTest, RankOneWritesNothing) {
  fs::copy(data(), dir_ / "emoji_rank1");
  const int port = free_local_port();
  const std::string rank1_log = dir_ / "rank1.log";
  const pid_t rank1 = start_rank1(
      dir_, port,
      tiny_train_args(dir_ / "rank1_run", dir_ / "emoji_rank1", kCommon + " --set train.steps=4"),
      rank1_log);
  auto r0 = run_rank0(port, args("rank0_run", "--set train.steps=4"), rank1);
  ASSERT_EQ(r0.exit_code, 0) << r0.err;
  EXPECT_TRUE(fs::exists(dir_ / "rank0_run/last.pt"));
  EXPECT_TRUE(fs::exists(dir_ / "rank0_run/metrics.jsonl"));
  EXPECT_FALSE(fs::exists(dir_ / "rank1_run"));
  for (const auto& e : fs::directory_iterator(dir_ / "emoji_rank1")) {
    EXPECT_EQ(e.path().filename().string().rfind(".ddpm-cache", 0), std::string::npos)
        << "rank 1 wrote " << e.path();
  }
  EXPECT_EQ(test::read_file(rank1_log), "");
  EXPECT_EQ(load(dir_ / "rank0_run/last.pt").meta.step, 4);
}

// Workers started with different settings would train something else than asked, or hang in a
// collective of another size: both refuse at start, each with one line.
TEST_F(DistributedTest, WorkersWithDifferentConfigsRefuseToStart) {
  const int port = free_local_port();
  const std::string rank1_log = dir_ / "rank1.log";
  const pid_t rank1 =
      start_rank1(dir_, port, args("run1", "--set train.steps=4 --set train.lr=0.002"), rank1_log);
  auto r0 = run_rank0(port, args("run0", "--set train.steps=4"), rank1);
  test::expect_one_line_error(r0, "rank 0: another worker's config differs from rank 0's",
                              "rank 0");
  EXPECT_NE(test::read_file(rank1_log).find("rank 1: this worker's config differs from rank 0's"),
            std::string::npos)
      << test::read_file(rank1_log);
  EXPECT_FALSE(fs::exists(dir_ / "run0/last.pt"));
}

// A launcher in the background: its pid, log, and the pid of each worker it reports.
struct Launch {
  pid_t pid;
  std::string log;
  std::vector<pid_t> workers;
};

// The launcher's line for one worker's end, e.g. "worker 1 (pid 42) was killed by signal 9".
void expect_worker_line(const std::string& log, const Launch& l, int rank,
                        const std::string& outcome) {
  EXPECT_NE(log.find("worker " + std::to_string(rank) + " (pid " + std::to_string(l.workers[rank]) +
                     ") " + outcome),
            std::string::npos)
      << log;
}

Launch start_long_run(const test::TempDir& dir, const std::string& train_args) {
  Launch l{0, dir / "launch.log", {}};
  l.pid = test::spawn_ddpm(train_args + " --set train.steps=100000 --nproc 2", l.log);
  const std::regex worker("worker (\\d+): pid (\\d+)");
  for (int i = 0; i < 600 && !fs::exists(dir / "run/last.pt"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const std::string text = test::read_file(l.log);
  for (std::sregex_iterator it(text.begin(), text.end(), worker), end; it != end; ++it) {
    l.workers.push_back(static_cast<pid_t>(std::stol((*it)[2])));
  }
  return l;
}

TEST_F(DistributedTest, ALostWorkerEndsTheRunWithAClearError) {
  Launch l = start_long_run(dir_, args("run", "--set train.dist_timeout=5"));
  ASSERT_EQ(l.workers.size(), 2u) << test::read_file(l.log);
  ASSERT_TRUE(fs::exists(dir_ / "run/last.pt")) << test::read_file(l.log);
  const auto start = Clock::now();
  kill(l.workers[1], SIGKILL);
  EXPECT_EQ(test::wait_exit(l.pid), 1);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_LT(seconds, 5 + 10) << "train.dist_timeout is 5 s";
  const std::string log = test::read_file(l.log);
  // Rank 0 meets the others in two places each step: the gradient allreduce, and the one that ends
  // its checkpoint (every 3 steps here). The kill lands in either.
  const std::regex lost(
      "ddpm: error: rank 0: distributed training: (gradient allreduce|checkpoint, previews and "
      "evaluation at step \\d+) failed on rank 0: a worker was lost or did not answer within "
      "train\\.dist_timeout = 5 s");
  EXPECT_TRUE(std::regex_search(log, lost)) << log;
  expect_worker_line(log, l, 1, "was killed by signal 9");
  expect_worker_line(log, l, 0, "exited with status 1");
  EXPECT_GT(load(dir_ / "run/last.pt").meta.step, 0);  // the last good checkpoint loads
}

// The socket inodes ("123" of "socket:[123]") that process `pid` holds.
std::set<std::string> socket_inodes(pid_t pid) {
  std::set<std::string> inodes;
  std::error_code ec;
  const fs::path fds = "/proc/" + std::to_string(pid) + "/fd";
  for (fs::directory_iterator it(fds, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code link_ec;
    const std::string target = fs::read_symlink(it->path(), link_ec).string();
    if (target.rfind("socket:[", 0) == 0) inodes.insert(target.substr(8, target.size() - 9));
  }
  return inodes;
}

// `--nproc`'s workers rendezvous through a file store in a private folder instead of a TCP store
// that listens on every interface: every listening TCP socket of theirs (in /proc/net/tcp and
// tcp6, found by the sockets' inodes) is on loopback.
TEST_F(DistributedTest, LocalWorkersListenOnNoNetworkAddress) {
  Launch l = start_long_run(dir_, args("run", ""));
  ASSERT_EQ(l.workers.size(), 2u) << test::read_file(l.log);
  std::set<std::string> inodes = socket_inodes(l.pid);
  for (pid_t worker : l.workers) {
    const auto mine = socket_inodes(worker);
    inodes.insert(mine.begin(), mine.end());
  }
  int listening = 0;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
      fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >>
          timeout >> inode;
      if (state != "0A" || !inodes.count(inode)) continue;  // 0A: LISTEN
      ++listening;
      const std::string address = local.substr(0, local.find(':'));
      EXPECT_TRUE(address == "0100007F" || address == "00000000000000000000000001000000")
          << table << ": a worker listens on " << local;
    }
  }
  std::printf("%d listening sockets of the job, all on loopback\n", listening);
  kill(l.pid, SIGINT);
  EXPECT_EQ(test::wait_exit(l.pid), 0) << test::read_file(l.log);
}

// Rank 0's previews (and checkpoints and evaluations) take as long as they take: rank 1 waits on
// rank 0's heartbeat, not on train.dist_timeout. Here each preview (192 pictures, 100 ancestral
// steps) takes about 10 s on a 2-core machine, twice the timeout; before the heartbeat, rank 1's
// next allreduce gave up after 5 s.
TEST_F(DistributedTest, RankZerosPreviewsMayOutlastTheTimeout) {
  const auto r = run_ddpm(args("run",
                               "--set train.steps=3 --set train.preview_every=2 "
                               "--set train.preview_n=192 --set train.dist_timeout=5 --nproc 2"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir_ / "run/previews/step_0000002.png")) << r.err;
  EXPECT_EQ(load(dir_ / "run/last.pt").meta.step, 3);
}

// Waits up to `seconds` for `text` in the file at `path`; says whether it came.
bool wait_for_text(const std::string& path, const std::string& text, int seconds) {
  for (int i = 0; i < seconds * 10; ++i) {
    if (test::read_file(path).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

// Stops worker `rank` of a long two-worker run (train.dist_timeout 5 s) with SIGSTOP, once the log
// shows `after` (where given): the other gives up within the timeout, and the launcher kills the
// stopped one 10 s after that. Returns the launcher's log, and the launch through `l`.
std::string stop_a_worker(const test::TempDir& dir, const std::string& train_args, int rank,
                          Launch& l, const std::string& after = "") {
  l = start_long_run(dir, train_args);
  if (l.workers.size() != 2u) {
    ADD_FAILURE() << test::read_file(l.log);
    return "";
  }
  wait_for_text(l.log, after, 60);
  const auto start = Clock::now();
  kill(l.workers[rank], SIGSTOP);
  EXPECT_EQ(test::wait_exit(l.pid), 1);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  EXPECT_LT(seconds, 5 + 10 + 10);
  const std::string log = test::read_file(l.log);
  EXPECT_NE(log.find("within train.dist_timeout = 5 s"), std::string::npos) << log;
  return log;
}

// Rank 0 stopped in the middle of its preview (step 4's progress line is written just before it):
// rank 1, waiting for that preview, gives up within the timeout with an error that names the work,
// instead of waiting for ever. Here rank 0 also serves the job's store, so it is the store's own
// timeout that ends the wait; where the store lives elsewhere, the heartbeat's silence does (the
// torchrun test below).
TEST_F(DistributedTest, AStoppedRankZeroEndsTheWaitWithinTheTimeout) {
  Launch l;
  const std::string log = stop_a_worker(dir_,
                                        args("run",
                                             "--set train.dist_timeout=5 --set "
                                             "train.preview_every=4 --set train.preview_n=192"),
                                        0, l, "step 4/");
  EXPECT_NE(log.find("rank 1 lost rank 0 during its checkpoint, previews and evaluation at step 4"),
            std::string::npos)
      << log;
}

// torchrun starting two workers of `ddpm <train_args>`, one thread each, as a command line for
// test::spawn_command. Debian's python3-torch ships torchrun; its 1.13 spelling is --no_python. On
// Python 3.11 its default "--redirects 0" fails (Std.from_str finds no 0-valued flag), so it names
// 1 and 2. `mode` is "" (the static rendezvous: workers join the agent's store) or "--standalone"
// (rank 0 serves the store). The workers' own logs go to `dir`/logs.
std::string torchrun_command(const std::string& mode, const std::string& dir,
                             const std::string& train_args) {
  return "env OMP_NUM_THREADS=1 torchrun " + mode +
         " --nproc_per_node 2 --redirects 1 --tee 2 --log_dir '" + dir + "/logs' --no_python '" +
         DDPM_BINARY + "' " + train_args;
}

// The worker of rank `rank` among the children of `parent` (by the RANK in its environment), or
// 0 where there is none.
pid_t child_with_rank(pid_t parent, int rank) {
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string stat = test::read_file(entry.path() / "stat");  // pid (comm) state ppid ...
    const auto comm_end = stat.rfind(')');
    if (comm_end == std::string::npos) continue;
    std::istringstream rest(stat.substr(comm_end + 1));
    std::string state;
    pid_t ppid = 0;
    if (!(rest >> state >> ppid) || ppid != parent) continue;
    std::string environ = test::read_file(entry.path() / "environ");
    std::replace(environ.begin(), environ.end(), '\0', '\n');
    if (("\n" + environ).find("\nRANK=" + std::to_string(rank) + "\n") != std::string::npos)
      return static_cast<pid_t>(std::stol(name));
  }
  return 0;
}

// Under torchrun's default (static) rendezvous the job's store lives in torchrun's agent, so a
// stopped rank 0 leaves the store answering: only the silence of rank 0's heartbeat ends rank 1's
// wait for its preview. Without the heartbeat's timeout rank 1 would wait for ever.
TEST_F(DistributedTest, UnderTorchrunTheSilentHeartbeatOfAStoppedRankZeroEndsTheWait) {
  if (!fs::exists("/usr/bin/torchrun")) GTEST_SKIP() << "torchrun is not installed (python3-torch)";
  const std::string log = dir_ / "torchrun.log";
  const pid_t torchrun = test::spawn_command(
      torchrun_command("", dir_.path(),
                       args("run",
                            "--set train.dist_timeout=5 --set train.preview_every=4 --set "
                            "train.preview_n=192 --set train.steps=100000")),
      log);
  ASSERT_TRUE(wait_for_text(log, "step 4/", 60)) << test::read_file(log);
  const pid_t rank0 = child_with_rank(torchrun, 0);
  ASSERT_GT(rank0, 0) << test::read_file(log);
  const auto start = Clock::now();
  kill(rank0, SIGSTOP);
  const std::string lost =
      "rank 1 lost rank 0 during its checkpoint, previews and evaluation at step 4: it did not "
      "answer within train.dist_timeout = 5 s (no heartbeat)";
  const bool ended = wait_for_text(log, lost, 60);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  kill(rank0, SIGKILL);  // torchrun gives a stopped worker 30 s to take its SIGTERM
  EXPECT_NE(test::wait_exit(torchrun), 0);
  EXPECT_TRUE(ended) << test::read_file(log);
  EXPECT_LT(seconds, 5 + 10) << "train.dist_timeout is 5 s";
}

TEST_F(DistributedTest, AHungWorkerEndsTheRunWithinTheTimeout) {
  Launch l;
  const std::string log = stop_a_worker(dir_, args("run", "--set train.dist_timeout=5"), 1, l);
  EXPECT_NE(log.find("did not answer within train.dist_timeout = 5 s"), std::string::npos) << log;
  expect_worker_line(log, l, 1, "was killed by signal 9");
  EXPECT_GT(load(dir_ / "run/last.pt").meta.step, 0);
}

TEST_F(DistributedTest, SigintToTheLauncherSavesOnceAndStopsEveryWorker) {
  Launch l = start_long_run(dir_, args("run", ""));
  ASSERT_EQ(l.workers.size(), 2u) << test::read_file(l.log);
  kill(l.pid, SIGINT);
  EXPECT_EQ(test::wait_exit(l.pid), 0);
  const std::string log = test::read_file(l.log);
  EXPECT_NE(log.find("stopped by signal 2 at step"), std::string::npos) << log;
  expect_worker_line(log, l, 0, "exited with status 0");
  expect_worker_line(log, l, 1, "exited with status 0");
  const int64_t step = load(dir_ / "run/last.pt").meta.step;
  EXPECT_GT(step, 0);
  auto rest = train("run", static_cast<int>(step) + 2, 2, /*resume=*/true);
  EXPECT_EQ(load(dir_ / "run/last.pt").meta.step, step + 2);
}

// Both rendezvous: the default static one and --standalone.
TEST_F(DistributedTest, TorchrunLaunchesTheWorkers) {
  if (!fs::exists("/usr/bin/torchrun")) GTEST_SKIP() << "torchrun is not installed (python3-torch)";
  train("single", 4, 0);
  const Weights single = load(dir_ / "single/last.pt");
  for (const std::string mode : {"", "--standalone"}) {
    const std::string run = mode.empty() ? "static" : "standalone";
    const std::string log = dir_ / (run + ".log");
    const pid_t torchrun = test::spawn_command(
        torchrun_command(mode, dir_.path(), args(run, "--set train.steps=4")), log);
    ASSERT_EQ(test::wait_exit(torchrun), 0) << test::read_file(log);
    EXPECT_NE(test::read_file(log).find("× 2 workers"), std::string::npos) << test::read_file(log);
    expect_same_training(single, load(dir_ / (run + "/last.pt")), 4);
  }
}

TEST_F(DistributedTest, BadWorldsAreOneLineErrors) {
  test::expect_one_line_error(run_ddpm(args("a", "--set train.steps=2 --nproc 3")),
                              "train.batch_size = 8 does not divide among 3 workers", "nproc 3");
  test::expect_one_line_error(
      run_ddpm(args("b", "--set train.steps=2"), DDPM_SOURCE_DIR, "export RANK=x WORLD_SIZE=2;"),
      "RANK=x: expected an integer", "RANK=x");
  test::expect_one_line_error(
      run_ddpm(args("c", "--set train.steps=2"), DDPM_SOURCE_DIR, "export RANK=2 WORLD_SIZE=2;"),
      "RANK=2 is not below WORLD_SIZE=2", "RANK=2");
  test::expect_one_line_error(
      run_ddpm(args("d", "--set train.steps=2"), DDPM_SOURCE_DIR, "export RANK=0;"),
      "WORLD_SIZE is unset while the other is set", "RANK only");
  test::expect_one_line_error(run_ddpm(args("e", "--set train.steps=2 --nproc 2"), DDPM_SOURCE_DIR,
                                       "export RANK=0 WORLD_SIZE=2;"),
                              "--nproc: this process is already a worker", "nested");
  test::expect_one_line_error(run_ddpm(args("f", "--set train.steps=2 --set train.dist_timeout=0")),
                              "train.dist_timeout", "timeout 0");
}

// A second worker that never comes: rank 0 gives up after train.dist_timeout, naming the address.
TEST_F(DistributedTest, AMissingWorkerIsAnErrorWithinTheTimeout) {
  const int port = free_local_port();
  const auto start = Clock::now();
  auto r = run_ddpm(
      args("run", "--set train.steps=2 --set train.dist_timeout=3"), DDPM_SOURCE_DIR,
      "export RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port) + ";");
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  test::expect_one_line_error(r, "rank 0 could not join 127.0.0.1:" + std::to_string(port),
                              "missing worker");
  EXPECT_LT(seconds, 3 + 10);
}

// Two communicators in this process (a thread each) meet in one rank0_work, where rank 0 runs
// `work`: each rank's error, empty where it returned, and how long rank 1 waited.
struct SoloWorkOutcome {
  std::string error[2];
  double rank1_seconds = 0.0;
};

SoloWorkOutcome meet_in_rank0_work(const std::function<void()>& work, int timeout, int limit) {
  SoloWorkOutcome out;
  WorldInfo info;
  info.world = 2;
  info.launched = true;
  info.master_port = free_local_port();
  const auto worker = [&](int rank) {
    WorldInfo mine = info;
    mine.rank = mine.local_rank = rank;
    try {
      auto comm = Communicator::connect(mine, torch::kCPU, std::chrono::seconds(timeout),
                                        std::chrono::seconds(limit));
      const auto start = Clock::now();
      try {
        comm->rank0_work(
            "the test's work", rank == 0 ? work : [] {});
      } catch (const Error& e) {
        out.error[rank] = e.what();
      }
      if (rank == 1)
        out.rank1_seconds = std::chrono::duration<double>(Clock::now() - start).count();
    } catch (const Error& e) {
      out.error[rank] = std::string("connect: ") + e.what();
    }
  };
  std::thread rank0(worker, 0), rank1(worker, 1);
  rank0.join();
  rank1.join();
  return out;
}

// Work longer than the timeout is waited for while rank 0's heartbeat beats, up to
// train.rank0_work_timeout.
TEST(DistributedRank0Work, AWorkingRankZeroIsWaitedForPastTheTimeoutUpToTheWorkLimit) {
  if (!DDPM_WITH_GLOO) GTEST_SKIP() << "this build has no Gloo";
  const auto work = [] { std::this_thread::sleep_for(std::chrono::milliseconds(2500)); };
  const auto out = meet_in_rank0_work(work, 1, 20);
  EXPECT_EQ(out.error[0], "");
  EXPECT_EQ(out.error[1], "");
  EXPECT_GT(out.rank1_seconds, 1.0) << "rank 1 waited past the timeout, for the work";
}

// A live rank 0 whose work hangs (its heartbeat beats on) is given up on after the work limit,
// with an error that names the setting; rank 0, once its work returns, finds rank 1 gone.
TEST(DistributedRank0Work, ARankZeroThatWorksPastTheWorkLimitEndsTheWait) {
  if (!DDPM_WITH_GLOO) GTEST_SKIP() << "this build has no Gloo";
  const auto hang = [] { std::this_thread::sleep_for(std::chrono::seconds(5)); };
  const auto out = meet_in_rank0_work(hang, 2, 1);
  EXPECT_NE(
      out.error[1].find("rank 1 gave up waiting for rank 0's the test's work: it was still "
                        "working, its heartbeat beating, after train.rank0_work_timeout = 1 s"),
      std::string::npos)
      << out.error[1];
  EXPECT_EQ(out.error[1].find('\n'), std::string::npos) << "one line";
  EXPECT_GE(out.rank1_seconds, 1.0);
  EXPECT_LT(out.rank1_seconds, 5.0) << "before the work ended";
  EXPECT_NE(out.error[0], "") << "rank 0 finds rank 1 gone";
}

// A build without Gloo (PyTorch's pip wheels have no gloo headers) refuses CPU workers before
// starting any, naming what to do.
TEST(DistributedBackend, AMissingBackendIsAOneLineErrorBeforeAnyWorkerStarts) {
  if (DDPM_WITH_GLOO) {
    EXPECT_NO_THROW(check_backend(torch::kCPU));
  } else {
    EXPECT_THROW(check_backend(torch::kCPU), Error);
    test::TempDir dir;
    test::make_emoji_folder(dir / "emoji", 8);
    test::expect_one_line_error(
        run_ddpm(tiny_train_args(dir / "run", dir / "emoji", kCommon + " --nproc 2")),
        "needs c10d's Gloo backend, and this build of ddpm has none", "no gloo");
  }
  if (DDPM_WITH_NCCL) {
    EXPECT_NO_THROW(check_backend(torch::Device(torch::kCUDA)));
  } else {
    EXPECT_THROW(check_backend(torch::Device(torch::kCUDA)), Error);
  }
}

}  // namespace
}  // namespace ddpm
