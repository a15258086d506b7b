// This process's place in a training job: its device and threads and, when data-parallel, the
// communicator, with the agreements the trainer needs: every worker runs rank 0's config, a failure
// on one ends them all with a clear line, and rank 0's checkpoint and weights reach every worker.
// A single process is a group of one: every call then simply runs locally.
#pragma once
#include <torch/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ddpm/config/config.h"
#include "ddpm/distributed/distributed.h"
#include "ddpm/io/checkpoint.h"

namespace ddpm {

class WorkerGroup {
 public:
  // Sets threads (the cores of a machine shared among its workers), picks the device (each
  // worker the GPU of its LOCAL_RANK), seeds the model's initialisation, then joins the others.
  WorkerGroup(const Config& config, const WorldInfo& world);

  torch::Device device() const { return device_; }
  Communicator* communicator() const { return comm_.get(); }  // null for a single process
  bool writer() const { return writer_; }  // rank 0: writes the run folder and the log
  int64_t size() const { return comm_ ? comm_->world() : 1; }

  // Runs `part` on every worker; when it fails on any, all of them throw (the failed one its own
  // error, the others one that points to it) instead of waiting for a collective that never comes.
  void on_all(const std::string& what, const std::function<void()>& part);
  // Rank 0 reads and verifies the checkpoint at `path` (only rank 0 knows it) and sends its bytes
  // to the others, which need no shared file system.
  Checkpoint read_checkpoint(const std::function<std::string()>& path);
  // Rank 0's values of `tensors` on every worker.
  void share(const std::vector<torch::Tensor>& tensors);
  // Rank 0 alone runs `work` (checkpoints, previews, evaluation); the others wait for it on its
  // heartbeat, not on train.dist_timeout.
  void rank0_work(const std::string& what, const std::function<void()>& work);

 private:
  bool writer_;
  torch::Device device_;
  std::unique_ptr<Communicator> comm_;
};

// Throws unless `workers` data-parallel workers can share `config`'s batches (train.batch_size, the
// global micro-batch, must divide among them).
void check_world_fits(const Config& config, int workers);

// What every worker must agree on: the config, less what may differ between machines (paths,
// threads, device), as a CRC-32 (the same on every build, unlike std::hash).
int64_t shared_config_hash(Config config);

}  // namespace ddpm
