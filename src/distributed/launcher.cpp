#include "ddpm/distributed/launcher.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <ostream>
#include <string>
#include <thread>

#include "ddpm/base/error.h"

namespace ddpm {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kMaxWorkers = 256;
pid_t g_workers[kMaxWorkers];
std::atomic<int> g_worker_count{0};

// Async-signal-safe: passes the signal on to every worker still listed.
extern "C" void forward_signal(int signal) {
  const int n = g_worker_count.load();
  for (int i = 0; i < n; ++i) {
    if (g_workers[i] > 0) kill(g_workers[i], signal);
  }
}

class ForwardSignals {
 public:
  ForwardSignals() {
    struct sigaction sa {};
    sa.sa_handler = forward_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~ForwardSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

// In the child: its own process group (a terminal's Ctrl-C reaches the launcher, which forwards it
// once), SIGTERM when the launcher dies, torchrun's variables, then the worker's command line.
[[noreturn]] void exec_worker(const LaunchOptions& o, int rank, const std::string& store_file) {
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  setenv("RANK", std::to_string(rank).c_str(), 1);
  setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
  setenv("WORLD_SIZE", std::to_string(o.nproc).c_str(), 1);
  setenv("LOCAL_WORLD_SIZE", std::to_string(o.nproc).c_str(), 1);
  setenv("MASTER_ADDR", "127.0.0.1", 1);
  unsetenv("MASTER_PORT");  // the workers meet through the store file, not a port
  setenv("DDPM_STORE_FILE", store_file.c_str(), 1);
  unsetenv("TORCHELASTIC_USE_AGENT_STORE");
  std::vector<char*> argv;
  for (const auto& a : o.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  execv("/proc/self/exe", argv.data());
  _exit(127);
}

// The rendezvous file of a local job, in a fresh folder that only this user can enter (mkdtemp:
// mode 0700), removed with the launcher's scope.
class PrivateStore {
 public:
  PrivateStore() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/ddpm-store-XXXXXX";
    if (!mkdtemp(pattern.data())) {
      throw Error("--nproc: cannot create a private folder for the workers' store under " +
                  pattern.substr(0, pattern.rfind('/')) + " (set TMPDIR to a writable folder)");
    }
    dir_ = pattern;
  }
  ~PrivateStore() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  PrivateStore(const PrivateStore&) = delete;
  PrivateStore& operator=(const PrivateStore&) = delete;
  std::string file() const { return dir_ + "/store"; }

 private:
  std::string dir_;
};

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
  return "ended";
}

int index_of(pid_t pid, int n) {
  for (int i = 0; i < n; ++i) {
    if (g_workers[i] == pid) return i;
  }
  return -1;
}

}  // namespace

int free_local_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw Error("--nproc: cannot open a socket to find a free port");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  close(fd);
  if (!ok) throw Error("--nproc: cannot find a free port on 127.0.0.1");
  return ntohs(addr.sin_port);
}

int launch_local_workers(const LaunchOptions& o, std::ostream& log) {
  if (o.nproc < 1 || o.nproc > kMaxWorkers) {
    throw Error("--nproc " + std::to_string(o.nproc) + ": expected 1 to " +
                std::to_string(kMaxWorkers) + " workers");
  }
  const PrivateStore store;
  log << "launching " << o.nproc << " workers on 127.0.0.1 (store " << store.file() << ")\n"
      << std::flush;
  ForwardSignals forward;
  for (int rank = 0; rank < o.nproc; ++rank) {
    const pid_t pid = fork();
    if (pid < 0) throw Error("--nproc: cannot start worker " + std::to_string(rank));
    if (pid == 0) exec_worker(o, rank, store.file());
    g_workers[rank] = pid;
    g_worker_count.store(rank + 1);
    log << "worker " << rank << ": pid " << pid << "\n" << std::flush;
  }
  int running = o.nproc, failed = 0;
  Clock::time_point deadline = Clock::time_point::max();
  while (running > 0) {
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      const int rank = index_of(pid, o.nproc);
      if (rank < 0) continue;
      g_workers[rank] = 0;
      --running;
      const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      log << "worker " << rank << " (pid " << pid << ") " << describe_exit(status) << "\n"
          << std::flush;
      if (!ok && failed++ == 0) deadline = Clock::now() + o.grace;
      continue;
    }
    if (Clock::now() > deadline) {
      for (int i = 0; i < o.nproc; ++i) {
        if (g_workers[i] > 0) kill(g_workers[i], SIGKILL);
      }
      deadline = Clock::time_point::max();
      log << "stopping the remaining workers: a worker failed and they did not end within "
          << o.grace.count() << " s\n";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  g_worker_count.store(0);
  return failed == 0 ? 0 : 1;
}

}  // namespace ddpm
