// Data-parallel training on PyTorch's c10d: the worker's place in the job, read from torchrun's
// environment, and a Communicator over a c10d process group (Gloo on the CPU, NCCL on CUDA when
// LibTorch has it). Every collective either completes or throws a ddpm::Error that names the
// operation and the timeout; none hangs past train.dist_timeout.
#pragma once
#include <torch/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ddpm/data/shard.h"

namespace ddpm {

// RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT as torchrun sets them.
struct WorldInfo {
  int rank = 0;
  int world = 1;
  int local_rank = 0;
  int local_world = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  // torchrun's static rendezvous: the agent runs the TCPStore, and the workers join it as clients
  // under a per-attempt prefix (TORCHELASTIC_USE_AGENT_STORE, TORCHELASTIC_RESTART_COUNT).
  bool agent_store = false;
  std::string store_prefix;
  // `--nproc`'s workers: a FileStore at DDPM_STORE_FILE (in a folder only this user can enter)
  // instead of a TCPStore, so that a local job listens on no network address.
  std::string store_file;
  bool launched = false;  // RANK/WORLD_SIZE were set (a launched job, even of one worker)
  bool distributed() const { return launched; }
};

// The job described by the environment; a single process when RANK and WORLD_SIZE are unset.
// Malformed or inconsistent variables are errors that name the variable.
WorldInfo world_from_environment();

// Throws a one-line error when this build has no c10d backend for `device` (NCCL for CUDA, Gloo
// for the CPU: both are found by CMake, and PyTorch's pip wheels lack gloo's headers).
void check_backend(torch::Device device);

class Communicator {
 public:
  virtual ~Communicator() = default;
  // Joins the job's process group: TCPStore at MASTER_ADDR:MASTER_PORT (rank 0 serves it unless
  // torchrun's agent does; a FileStore for `--nproc`'s local workers), Gloo for CPU tensors, NCCL
  // for CUDA ones. `work_limit` caps the wait in rank0_work (0: none).
  static std::unique_ptr<Communicator> connect(const WorldInfo& info, torch::Device device,
                                               std::chrono::seconds timeout,
                                               std::chrono::seconds work_limit);

  virtual int rank() const = 0;
  virtual int world() const = 0;
  // Where the tensors of its collectives must live (CUDA for NCCL, the CPU for Gloo).
  virtual torch::Device device() const = 0;
  // In place: the sum over all workers. `what` names the operation in errors.
  virtual void allreduce_sum(torch::Tensor& tensor, const std::string& what) = 0;
  // In place: rank 0's values on every worker.
  virtual void broadcast(torch::Tensor& tensor, const std::string& what) = 0;
  // Rank 0's work outside the collectives (checkpoints, previews, evaluation), which may take
  // longer than the timeout: every worker calls it at the same point; rank 0 runs `work` while a
  // heartbeat in the job's store says it is alive, and the others wait until it is done. They wait
  // as long as the heartbeat beats, and throw once it has been silent for the timeout (rank 0 lost
  // or stopped), when rank 0's work threw, or when it has worked for longer than the work limit
  // (a live rank 0 that hangs). `what` names the work in errors.
  virtual void rank0_work(const std::string& what, const std::function<void()>& work) = 0;
};

// Rank 0's values of `tensors` on every worker, in one flat broadcast.
void broadcast_tensors(Communicator& comm, const std::vector<torch::Tensor>& tensors,
                       const std::string& what);
// Rank 0's bytes on every worker (sizes first, so a failed rank 0 is known by all: it sends -1
// and every other worker throws).
std::vector<uint8_t> broadcast_bytes(Communicator& comm, const std::vector<uint8_t>* bytes,
                                     const std::string& what);
// True on every worker when `ok` is true on all of them.
bool all_agree(Communicator& comm, bool ok);

}  // namespace ddpm
