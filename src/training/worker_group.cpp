#include "ddpm/training/worker_group.h"

#include <algorithm>
#include <thread>

#include "ddpm/base/crc.h"
#include "ddpm/base/error.h"
#include "ddpm/base/file_input.h"
#include "ddpm/base/runtime.h"

namespace ddpm {
namespace {

torch::Device start_worker(const TrainConfig& tc, const WorldInfo& world) {
  int64_t threads = tc.threads;
  if (threads == 0 && world.local_world > 1) {
    threads = std::max<int64_t>(1, std::thread::hardware_concurrency() / world.local_world);
  }
  configure_threads(threads);
  torch::Device device = pick_device(tc.device);
  if (device.is_cuda() && world.launched) {
    device = pick_device("cuda:" + std::to_string(world.local_rank));
  }
  torch::manual_seed(static_cast<uint64_t>(tc.seed));
  return device;
}

// Throws on every worker unless all of them were started with rank 0's config.
void check_same_config(Communicator& comm, const Config& config) {
  const int64_t mine = shared_config_hash(config);
  auto theirs =
      torch::full({1}, mine, torch::TensorOptions().dtype(torch::kLong).device(comm.device()));
  comm.broadcast(theirs, "config check");
  const bool same = theirs.item<int64_t>() == mine;
  if (!all_agree(comm, same)) {
    throw Error(std::string(same ? "another worker's" : "this worker's") +
                " config differs from rank 0's (model, diffusion, data or training settings); "
                "start every worker with the same config and --set overrides");
  }
}

std::unique_ptr<Communicator> join_workers(const Config& config, const WorldInfo& world,
                                           torch::Device device) {
  if (!world.distributed()) return nullptr;
  check_world_fits(config, world.world);
  auto comm = Communicator::connect(world, device, std::chrono::seconds(config.train.dist_timeout),
                                    std::chrono::seconds(config.train.rank0_work_timeout));
  check_same_config(*comm, config);
  return comm;
}

}  // namespace

WorkerGroup::WorkerGroup(const Config& config, const WorldInfo& world)
    : writer_(world.rank == 0),
      device_(start_worker(config.train, world)),
      comm_(join_workers(config, world, device_)) {}

void WorkerGroup::on_all(const std::string& what, const std::function<void()>& part) {
  if (!comm_) return part();
  std::string failure;
  try {
    part();
  } catch (const Error& e) {
    failure = e.what();
  }
  const bool ok = all_agree(*comm_, failure.empty());
  if (!failure.empty()) throw Error(failure);
  if (!ok)
    throw Error("distributed training: another worker failed during " + what + "; see its error");
}

Checkpoint WorkerGroup::read_checkpoint(const std::function<std::string()>& path) {
  if (!comm_) return Checkpoint::open(path());
  std::vector<uint8_t> bytes;
  std::string failure;
  if (writer_) {
    try {
      bytes = read_file_bytes(path(), "checkpoint");
      Checkpoint::from_bytes(bytes, path());  // verified before it is sent
    } catch (const Error& e) {
      failure = e.what();
    }
  }
  auto shared = broadcast_bytes(*comm_, writer_ && failure.empty() ? &bytes : nullptr,
                                "checkpoint broadcast");
  if (!failure.empty()) throw Error(failure);
  return Checkpoint::from_bytes(shared, writer_ ? path() : "rank 0's checkpoint");
}

void WorkerGroup::share(const std::vector<torch::Tensor>& tensors) {
  if (comm_) broadcast_tensors(*comm_, tensors, "weight broadcast");
}

void WorkerGroup::rank0_work(const std::string& what, const std::function<void()>& work) {
  if (comm_) return comm_->rank0_work(what, work);
  work();
}

void check_world_fits(const Config& config, int workers) {
  const int64_t batch = config.train.batch_size;
  if (batch % workers != 0) {
    throw Error("train.batch_size = " + std::to_string(batch) + " does not divide among " +
                std::to_string(workers) + " workers; make it a multiple of " +
                std::to_string(workers) + " (each worker takes batch_size / workers)");
  }
}

int64_t shared_config_hash(Config c) {
  c.data.path.clear();
  c.data.heldout_path.clear();
  c.train.run_dir.clear();
  c.train.classifier.clear();
  c.train.threads = 0;
  c.train.device.clear();
  const std::string text = config_to_json(c).dump();
  return crc32(reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

}  // namespace ddpm
