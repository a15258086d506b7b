#include "ddpm/distributed/distributed.h"

#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "ddpm/base/compat.h"
#include "ddpm/base/error.h"

#if DDPM_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if DDPM_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace ddpm {
namespace {

constexpr const char* kHeartbeatKey = "rank0_heartbeat";
// How a collective's error ends: what a lost worker leaves behind.
constexpr const char* kResumeHint = "; the last checkpoint stays usable, continue with --resume";

const char* env(const char* name) {
  const char* value = std::getenv(name);
  return value && *value ? value : nullptr;
}

// An integer environment variable in [low, high], or `fallback` when unset.
int env_int(const char* name, int fallback, int low, int high) {
  const char* text = env(name);
  if (!text) return fallback;
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(text, &end, 10);
  if (errno != 0 || *end != '\0' || value < low || value > high) {
    throw Error(std::string(name) + "=" + text + ": expected an integer in [" +
                std::to_string(low) + ", " + std::to_string(high) +
                "]; set it as torchrun does, or unset it for a single process");
  }
  return static_cast<int>(value);
}

void check_world(const WorldInfo& w) {
  if (w.rank >= w.world) {
    throw Error("RANK=" + std::to_string(w.rank) + " is not below WORLD_SIZE=" +
                std::to_string(w.world) + "; every worker needs a rank in [0, WORLD_SIZE)");
  }
  if (w.local_rank >= w.local_world || w.local_world > w.world) {
    throw Error("LOCAL_RANK=" + std::to_string(w.local_rank) +
                " and LOCAL_WORLD_SIZE=" + std::to_string(w.local_world) +
                " do not fit WORLD_SIZE=" + std::to_string(w.world) +
                "; launch with torchrun or ddpm train --nproc");
  }
}

// Rank 0's heartbeat while it works alone: a counter in the store, raised every `period` from a
// thread of its own (the only user of the store meanwhile) until destroyed.
class Heartbeat {
 public:
  Heartbeat(c10::intrusive_ptr<c10d::Store> store, std::chrono::milliseconds period)
      : store_(std::move(store)), period_(period), thread_([this] { beat(); }) {}
  ~Heartbeat() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }

 private:
  void beat() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stop_) {
      try {
        store_->add(kHeartbeatKey, 1);
      } catch (const std::exception&) {
        return;  // the store is gone: the others' wait ends in their timeout
      }
      wake_.wait_for(lock, period_, [this] { return stop_; });
    }
  }

  c10::intrusive_ptr<c10d::Store> store_;
  std::chrono::milliseconds period_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

class C10dCommunicator : public Communicator {
 public:
  C10dCommunicator(c10::intrusive_ptr<compat::CollectiveGroup> group,
                   c10::intrusive_ptr<c10d::Store> store, const WorldInfo& info,
                   torch::Device device, std::chrono::seconds timeout,
                   std::chrono::seconds work_limit)
      : group_(std::move(group)),
        store_(std::move(store)),
        rank_(info.rank),
        world_(info.world),
        device_(device),
        timeout_(timeout),
        work_limit_(work_limit) {}

  int rank() const override { return rank_; }
  int world() const override { return world_; }
  torch::Device device() const override { return device_; }

  void allreduce_sum(torch::Tensor& tensor, const std::string& what) override {
    run(
        what, [&](std::vector<torch::Tensor>& t) { return group_->allreduce(t); }, tensor);
  }
  void broadcast(torch::Tensor& tensor, const std::string& what) override {
    run(
        what, [&](std::vector<torch::Tensor>& t) { return group_->broadcast(t); }, tensor);
  }
  void rank0_work(const std::string& what, const std::function<void()>& work) override {
    const std::string done_key = "rank0_work/" + std::to_string(work_count_++);
    if (rank_ != 0) {
      wait_for_rank0(what, done_key);
    } else {
      try {
        const auto period = std::chrono::duration_cast<std::chrono::milliseconds>(timeout_) / 5;
        const Heartbeat heartbeat(store_, std::max(period, std::chrono::milliseconds(50)));
        work();
      } catch (...) {
        set_key(done_key, "failed");
        throw;
      }
      set_key(done_key, "done");
    }
    // Everyone leaves together: rank 0 serves the store, and must not exit (after the last step)
    // before the others have read its outcome.
    auto together = torch::zeros({1}, torch::TensorOptions().device(device_));
    allreduce_sum(together, what);
  }

 private:
  void set_key(const std::string& key, const std::string& value) {
    try {
      store_->set(key, std::vector<uint8_t>(value.begin(), value.end()));
    } catch (const std::exception&) {
      // the others learn of it through their timeout
    }
  }

  // Polls the store for rank 0's outcome, and for its heartbeat in the meantime.
  void wait_for_rank0(const std::string& what, const std::string& done_key) {
    const auto beat_count = [&] { return store_->add(kHeartbeatKey, 0); };
    try {
      int64_t beats = beat_count();
      const auto start = std::chrono::steady_clock::now();
      auto last_beat = start;
      while (!store_->check({done_key})) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        const int64_t now_beats = beat_count();
        const auto now = std::chrono::steady_clock::now();
        if (now_beats != beats) beats = now_beats, last_beat = now;
        if (now - last_beat > timeout_) throw_lost(what, "no heartbeat");
        if (work_limit_.count() > 0 && now - start > work_limit_) throw_overran(what);
      }
      const auto outcome = store_->get(done_key);
      if (std::string(outcome.begin(), outcome.end()) != "done") {
        throw Error("distributed training: rank 0 failed during " + what + "; see its error");
      }
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      throw_lost(what, first_line(e.what()));
    }
  }

  [[noreturn]] void throw_lost(const std::string& what, const std::string& why) const {
    throw Error("distributed training: rank " + std::to_string(rank_) + " lost rank 0 during its " +
                what + ": it did not answer within train.dist_timeout = " +
                std::to_string(timeout_.count()) + " s (" + why + ")" + kResumeHint);
  }

  [[noreturn]] void throw_overran(const std::string& what) const {
    throw Error("distributed training: rank " + std::to_string(rank_) +
                " gave up waiting for rank 0's " + what +
                ": it was still working, its heartbeat beating, after train.rank0_work_timeout = " +
                std::to_string(work_limit_.count()) +
                " s; see rank 0's log for where it hangs, or raise the limit (0 = none) if its " +
                "work takes that long" + kResumeHint);
  }

  template <class Op>
  void run(const std::string& what, Op op, torch::Tensor& tensor) {
    std::vector<torch::Tensor> tensors{tensor};
    try {
      op(tensors)->wait();
    } catch (const std::exception& e) {
      throw Error("distributed training: " + what + " failed on rank " + std::to_string(rank_) +
                  ": a worker was lost or did not answer within train.dist_timeout = " +
                  std::to_string(timeout_.count()) + " s (" + first_line(e.what()) + ")" +
                  kResumeHint);
    }
  }

  c10::intrusive_ptr<compat::CollectiveGroup> group_;
  c10::intrusive_ptr<c10d::Store> store_;
  int64_t work_count_ = 0;
  int rank_;
  int world_;
  torch::Device device_;
  std::chrono::seconds timeout_;
  std::chrono::seconds work_limit_;
};

c10::intrusive_ptr<c10d::Store> make_store(const WorldInfo& info, std::chrono::seconds timeout) {
  if (!info.store_file.empty()) {
    auto store = c10::make_intrusive<c10d::FileStore>(info.store_file, info.world);
    store->setTimeout(timeout);
    return c10::make_intrusive<c10d::PrefixStore>("ddpm", store);
  }
  c10d::TCPStoreOptions options;
  options.port = static_cast<std::uint16_t>(info.master_port);
  options.isServer = !info.agent_store && info.rank == 0;
  if (!info.agent_store) options.numWorkers = static_cast<std::size_t>(info.world);
  options.waitWorkers = !info.agent_store;
  options.timeout = timeout;
  options.multiTenant = true;
  c10::intrusive_ptr<c10d::Store> store =
      c10::make_intrusive<c10d::TCPStore>(info.master_addr, options);
  if (!info.store_prefix.empty()) {
    store = c10::make_intrusive<c10d::PrefixStore>(info.store_prefix, store);
  }
  // One process group per job: its own key space, as init_process_group's "default_pg".
  return c10::make_intrusive<c10d::PrefixStore>("ddpm", store);
}

#if DDPM_WITH_GLOO
std::shared_ptr<::gloo::transport::Device> gloo_device(const WorldInfo& info) {
  if (const char* ifname = env("GLOO_SOCKET_IFNAME")) {
    return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
  }
  const std::string& addr = info.master_addr;
  if (addr == "127.0.0.1" || addr == "localhost" || addr == "::1") {
    return c10d::ProcessGroupGloo::createDeviceForHostname(addr);  // all workers on this machine
  }
  return c10d::ProcessGroupGloo::createDefaultDevice();
}
#endif

c10::intrusive_ptr<compat::CollectiveGroup> make_group(const c10::intrusive_ptr<c10d::Store>& store,
                                                       const WorldInfo& info, torch::Device device,
                                                       std::chrono::seconds timeout) {
  check_backend(device);
  if (device.is_cuda()) {
#if DDPM_WITH_NCCL
    auto options = c10d::ProcessGroupNCCL::Options::create();
    options->timeout = timeout;
    return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, info.rank, info.world, options);
#endif
  }
#if DDPM_WITH_GLOO
  auto options = c10d::ProcessGroupGloo::Options::create(timeout);
  options->devices.push_back(gloo_device(info));
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, info.rank, info.world, options);
#else
  return {};  // unreachable: check_backend threw
#endif
}

}  // namespace

void check_backend(torch::Device device) {
  if (device.is_cuda() && !DDPM_WITH_NCCL) {
    throw Error(
        "distributed training on CUDA needs NCCL, and this build of ddpm has none; rebuild against "
        "a LibTorch with NCCL (nccl.h found by CMake), or train on the CPU with train.device=cpu");
  }
  if (!device.is_cuda() && !DDPM_WITH_GLOO) {
    throw Error(
        "distributed training on the CPU needs c10d's Gloo backend, and this build of ddpm has "
        "none (CMake found no gloo headers; PyTorch's pip wheels ship none); rebuild with "
        "GLOO_INCLUDE_DIR set to the gloo headers your LibTorch was built with, or train on CUDA "
        "(NCCL) or in one process");
  }
}

WorldInfo world_from_environment() {
  WorldInfo w;
  if (!env("RANK") && !env("WORLD_SIZE")) return w;
  if (!env("RANK") || !env("WORLD_SIZE")) {
    throw Error(std::string(env("RANK") ? "WORLD_SIZE" : "RANK") +
                " is unset while the other is set; set both (torchrun does), or neither for a "
                "single process");
  }
  w.launched = true;
  w.world = env_int("WORLD_SIZE", 1, 1, 65536);
  w.rank = env_int("RANK", 0, 0, 65535);
  w.local_rank = env_int("LOCAL_RANK", w.rank, 0, 65535);
  w.local_world = env_int("LOCAL_WORLD_SIZE", w.world, 1, 65536);
  w.master_port = env_int("MASTER_PORT", 29500, 1, 65535);
  if (const char* addr = env("MASTER_ADDR")) w.master_addr = addr;
  if (const char* file = env("DDPM_STORE_FILE")) w.store_file = file;
  const char* agent = env("TORCHELASTIC_USE_AGENT_STORE");
  w.agent_store = agent && std::strcmp(agent, "True") == 0;
  if (w.agent_store) {
    const char* attempt = env("TORCHELASTIC_RESTART_COUNT");
    w.store_prefix = std::string("/worker/attempt_") + (attempt ? attempt : "0");
  }
  check_world(w);
  return w;
}

std::unique_ptr<Communicator> Communicator::connect(const WorldInfo& info, torch::Device device,
                                                    std::chrono::seconds timeout,
                                                    std::chrono::seconds work_limit) {
  try {
    auto store = make_store(info, timeout);
    auto group = make_group(store, info, device, timeout);
    return std::make_unique<C10dCommunicator>(group, store, info, device, timeout, work_limit);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    const std::string where = info.store_file.empty()
                                  ? info.master_addr + ":" + std::to_string(info.master_port)
                                  : "the local job's store " + info.store_file;
    throw Error("distributed training: rank " + std::to_string(info.rank) + " could not join " +
                where + " within " + std::to_string(timeout.count()) + " s (" +
                first_line(e.what()) + "); check MASTER_ADDR/MASTER_PORT and that all " +
                std::to_string(info.world) + " workers started");
  }
}

void broadcast_tensors(Communicator& comm, const std::vector<torch::Tensor>& tensors,
                       const std::string& what) {
  if (tensors.empty()) return;
  std::vector<torch::Tensor> flat;
  for (const auto& t : tensors)
    flat.push_back(t.detach().reshape({-1}).to(comm.device(), torch::kFloat32));
  auto buffer = torch::cat(flat);
  comm.broadcast(buffer, what);
  torch::NoGradGuard no_grad;
  int64_t offset = 0;
  for (const auto& t : tensors) {
    const int64_t n = t.numel();
    t.copy_(buffer.narrow(0, offset, n).view(t.sizes()));
    offset += n;
  }
}

std::vector<uint8_t> broadcast_bytes(Communicator& comm, const std::vector<uint8_t>* bytes,
                                     const std::string& what) {
  const auto on = torch::TensorOptions().device(comm.device());
  auto size = torch::full({1}, bytes ? static_cast<int64_t>(bytes->size()) : int64_t{-1},
                          on.dtype(torch::kLong));
  comm.broadcast(size, what);
  const int64_t n = size.item<int64_t>();
  if (n < 0) throw Error("distributed training: rank 0 failed during " + what + "; see its error");
  auto buffer = torch::empty({n}, torch::kUInt8);
  if (comm.rank() == 0 && n > 0) std::memcpy(buffer.data_ptr<uint8_t>(), bytes->data(), n);
  auto shared = buffer.to(comm.device());
  comm.broadcast(shared, what);
  buffer = shared.cpu();
  const auto* p = buffer.data_ptr<uint8_t>();
  return std::vector<uint8_t>(p, p + n);
}

bool all_agree(Communicator& comm, bool ok) {
  auto failed = torch::full({1}, ok ? 0.0f : 1.0f, torch::TensorOptions().device(comm.device()));
  comm.allreduce_sum(failed, "start-up");
  return failed.item<float>() == 0.0f;
}

}  // namespace ddpm
