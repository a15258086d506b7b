#include "ddpm/training/trainer.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>

#include "ddpm/base/crc.h"
#include "ddpm/base/error.h"
#include "ddpm/base/file_input.h"
#include "ddpm/base/progress.h"
#include "ddpm/base/runtime.h"
#include "ddpm/base/stop_signals.h"
#include "ddpm/data/batch_sampler.h"
#include "ddpm/data/image_folder.h"
#include "ddpm/data/image_io.h"
#include "ddpm/diffusion/diffusion.h"
#include "ddpm/distributed/distributed.h"
#include "ddpm/evaluation/classifier.h"
#include "ddpm/evaluation/evaluation.h"
#include "ddpm/inference/generate.h"
#include "ddpm/inference/generation.h"
#include "ddpm/io/tensorboard.h"
#include "ddpm/training/run_folder.h"
#include "ddpm/training/train_state.h"
#include "ddpm/training/train_step.h"

namespace ddpm {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  int64_t s = static_cast<int64_t>(seconds + 0.5);
  std::ostringstream os;
  os << s / 3600 << ":" << std::setw(2) << std::setfill('0') << (s / 60) % 60 << ":" << std::setw(2)
     << std::setfill('0') << s % 60;
  return os.str();
}

// Threads, device and the seed of the model's initialisation, before anything is built. The
// workers of one machine share its cores, and each takes the GPU of its LOCAL_RANK.
torch::Device start_training(const TrainConfig& tc, const WorldInfo& world) {
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

// What every worker must agree on: the config, less what may differ between machines (paths,
// threads, device), as a CRC-32 (the same on every build, unlike std::hash).
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

// Runs `part` on every worker; when it fails on any, all of them throw (the failed one its own
// error, the others one that points to it) instead of waiting for a collective that never comes.
template <class F>
void on_all_workers(Communicator* comm, const std::string& what, F&& part) {
  if (!comm) return part();
  std::string failure;
  try {
    part();
  } catch (const Error& e) {
    failure = e.what();
  }
  const bool ok = all_agree(*comm, failure.empty());
  if (!failure.empty()) throw Error(failure);
  if (!ok)
    throw Error("distributed training: another worker failed during " + what + "; see its error");
}

// Where workers other than rank 0 write their log: nowhere.
std::ostream& null_stream() {
  static std::ostream stream(nullptr);
  return stream;
}

DataOptions data_options(const Config& config) {
  return {config.model.image_size, config.model.in_channels, config.model.num_classes > 0,
          config.data.disk_cache};
}

// Losses and speed since the last log line.
struct Interval {
  double loss_sum = 0.0;
  int64_t steps = 0;
  Clock::time_point start = Clock::now();
};

class Trainer {
 public:
  Trainer(const Config& config, const TrainOptions& options, std::ostream& log);
  TrainResult run();

 private:
  std::unique_ptr<RunFolder> open_folder(const TrainOptions& options);
  void share_weights();
  void load_data();
  void resume();
  Checkpoint read_resume_checkpoint();
  void open_outputs();
  bool should_stop() const;
  void finish(bool stopped);
  bool train_one_step();
  void skip_nonfinite_step();
  void log_interval();
  void after_step();
  void save(bool snapshot);
  void preview();
  GenerateOptions preview_options(int64_t n) const;
  void evaluate_heldout();
  void score_with_classifier();
  void record(const nlohmann::json& row, const std::string& prefix);

  const Config& config_;
  const TrainConfig& tc_;
  TrainOptions options_;
  bool writer_;  // rank 0 (or the only process): writes the run folder and the log
  std::ostream& log_;
  torch::Device device_;
  std::unique_ptr<Communicator> comm_;
  std::unique_ptr<RunFolder> folder_;  // rank 0 only
  std::string last_path_;
  TrainState state_;
  GaussianDiffusion diffusion_;
  TrainStep step_;
  Dataset data_, heldout_;
  std::unique_ptr<EventWriter> events_;
  std::unique_ptr<Classifier> classifier_;
  std::ofstream metrics_;
  std::unique_ptr<BatchSampler> sampler_;
  TrainResult result_;
  Interval interval_;
  AppliedStep last_applied_;
  int64_t start_step_ = 0;
  int64_t consecutive_nonfinite_ = 0;
  Clock::time_point run_start_;
  ProgressLine progress_;
  std::unique_ptr<StopSignals> signals_;
  bool stop_agreed_ = false;
};

Trainer::Trainer(const Config& config, const TrainOptions& options, std::ostream& log)
    : config_(config),
      tc_(config.train),
      options_(options),
      writer_(options.world.rank == 0),
      log_(writer_ ? log : null_stream()),
      device_(start_training(config.train, options.world)),
      comm_(join_workers(config, options.world, device_)),
      folder_(open_folder(options)),
      last_path_((std::filesystem::path(run_dir(config)) / "last.pt").string()),
      state_(config, device_),
      diffusion_(config.diffusion),
      step_(config, state_, diffusion_, device_, comm_.get()),
      progress_(log_, options.terminal) {
  diffusion_.to(device_);
  on_all_workers(comm_.get(), "data loading", [&] { load_data(); });
  state_.meta.class_names = data_.class_names;
  if (options.resume) resume();
  share_weights();
  if (writer_) folder_->write_config(config);
  open_outputs();
  sampler_ = std::make_unique<BatchSampler>(data_, config.data.random_flip, state_.meta.data,
                                            config.data.class_balance);
}

// Rank 0 checks and creates the run folder; the others never touch it.
std::unique_ptr<RunFolder> Trainer::open_folder(const TrainOptions& options) {
  std::unique_ptr<RunFolder> folder;
  on_all_workers(comm_.get(), "start-up (run folder)", [&] {
    if (writer_) folder = std::make_unique<RunFolder>(config_, options.resume, options.resume_from);
  });
  return folder;
}

// Every worker starts from rank 0's weights and EMA, fresh or resumed.
void Trainer::share_weights() {
  if (!comm_) return;
  std::vector<torch::Tensor> tensors = state_.model->parameters();
  for (const auto& p : state_.shadow->parameters()) tensors.push_back(p);
  for (const auto& b : state_.model->buffers()) tensors.push_back(b);
  for (const auto& b : state_.shadow->buffers()) tensors.push_back(b);
  broadcast_tensors(*comm_, tensors, "weight broadcast");
}

void Trainer::load_data() {
  DataOptions options = data_options(config_);
  options.write_cache = writer_;
  data_ = load_image_folder(config_.data.path, options, log_);
  const int64_t classes = config_.model.num_classes;
  if (classes > 0 && static_cast<int64_t>(data_.class_names.size()) != classes) {
    throw Error("model.num_classes = " + std::to_string(classes) + " but " + config_.data.path +
                " has " + std::to_string(data_.class_names.size()) +
                " class subfolders; make them agree");
  }
}

void Trainer::resume() {
  const Checkpoint checkpoint = read_resume_checkpoint();
  const std::string& path = checkpoint.path();
  on_all_workers(comm_.get(), "resume", [&] { state_.restore(checkpoint, device_); });
  const DataPosition& at = state_.meta.data;
  if (at.index > data_.size()) {
    throw Error(path + ": the saved data position (epoch " + std::to_string(at.epoch) + ", index " +
                std::to_string(at.index) + ") lies beyond the " + std::to_string(data_.size()) +
                " images of " + config_.data.path +
                "; the folder lost images since the run saved, restore them or start a new run");
  }
  log_ << "resumed from " << path << " at step " << state_.meta.step << "\n";
}

// Rank 0 reads the checkpoint and sends its bytes to the others, which need no shared file system.
Checkpoint Trainer::read_resume_checkpoint() {
  if (!comm_) return Checkpoint::open(folder_->resume_path());
  std::vector<uint8_t> bytes;
  std::string failure;
  if (writer_) {
    try {
      bytes = read_file_bytes(folder_->resume_path(), "checkpoint");
      Checkpoint::from_bytes(bytes, folder_->resume_path());  // verified before it is sent
    } catch (const Error& e) {
      failure = e.what();
    }
  }
  auto shared = broadcast_bytes(*comm_, writer_ && failure.empty() ? &bytes : nullptr,
                                "checkpoint broadcast");
  if (!failure.empty()) throw Error(failure);
  return Checkpoint::from_bytes(shared, writer_ ? folder_->resume_path() : "rank 0's checkpoint");
}

// TensorBoard: one event file per process in the run folder; resumed runs add a file, and their
// steps continue from the checkpoint's. The held-out set and the classifier are read once.
void Trainer::open_outputs() {
  if (!writer_) return;
  if (tc_.tensorboard) events_ = std::make_unique<EventWriter>(folder_->path().string());
  metrics_.open(folder_->path() / "metrics.jsonl", std::ios::app);
  if (tc_.eval_every > 0 || tc_.classifier_every > 0) {
    DataOptions heldout_options = data_options(config_);
    heldout_options.key = "data.heldout_path";
    heldout_ = load_image_folder(config_.data.heldout_path, heldout_options, log_);
  }
  if (tc_.classifier_every > 0) {
    classifier_ = std::make_unique<Classifier>(tc_.classifier, device_);
    if (heldout_.size() < 2 * tc_.classifier_n) {
      throw Error("train.classifier_n = " + std::to_string(tc_.classifier_n) + " needs " +
                  std::to_string(2 * tc_.classifier_n) + " held-out images (half for the floor), " +
                  "but " + config_.data.heldout_path + " has " + std::to_string(heldout_.size()) +
                  "; lower train.classifier_n or add images");
    }
  }
}

// One optimizer step over train.grad_accum micro-batches; false when its loss was not finite and
// the step was skipped.
bool Trainer::train_one_step() {
  const bool poison = options_.nonfinite_steps.count(state_.meta.step) > 0;
  if (poison) options_.nonfinite_steps.erase(options_.nonfinite_steps.find(state_.meta.step));
  const int64_t step = state_.meta.step;
  torch::Tensor loss;
  for (int64_t micro = 0; micro < tc_.grad_accum; ++micro) {
    auto batch = sampler_->next(tc_.batch_size, step_.shard());
    auto l = step_.accumulate(batch.images, batch.labels, step, micro, poison && micro == 0);
    loss = micro == 0 ? l : loss + l;
  }
  const AgreedStep agreed = step_.reduce(loss, comm_ && signals_->received() != 0);
  stop_agreed_ = agreed.stop;
  const double value = agreed.loss;
  if (!std::isfinite(value)) {
    skip_nonfinite_step();
    return false;
  }
  consecutive_nonfinite_ = 0;
  last_applied_ = step_.apply(state_.meta.step);
  ++state_.meta.step;
  interval_.loss_sum += value;
  ++interval_.steps;
  return true;
}

void Trainer::skip_nonfinite_step() {
  auto& meta = state_.meta;
  step_.discard();
  ++meta.nonfinite_skipped;
  if (++consecutive_nonfinite_ >= tc_.max_nonfinite) {
    throw Error(
        "the loss was not finite for " + std::to_string(consecutive_nonfinite_) +
        " steps in a row at step " + std::to_string(meta.step) +
        "; lower train.lr or raise train.warmup_steps (last good checkpoint: " + last_path_ + ")");
  }
  progress_.end();
  log_ << "warning: non-finite loss at step " << meta.step << ", step skipped ("
       << meta.nonfinite_skipped << " so far)\n";
}

void Trainer::after_step() {
  const int64_t step = state_.meta.step;
  const bool done = step >= tc_.steps;
  if (writer_ && (step % tc_.log_every == 0 || done)) log_interval();
  const bool snapshot = tc_.snapshot_every > 0 && step % tc_.snapshot_every == 0;
  const bool checkpoint = step % tc_.checkpoint_every == 0 || snapshot || done;
  const bool preview_due = tc_.preview_every > 0 && (step % tc_.preview_every == 0 || done);
  const bool eval_due = tc_.eval_every > 0 && (step % tc_.eval_every == 0 || done);
  const bool classifier_due =
      tc_.classifier_every > 0 && (step % tc_.classifier_every == 0 || done);
  if (!checkpoint && !preview_due && !eval_due && !classifier_due) return;
  const auto work = [&] {
    if (!writer_) return;
    if (checkpoint) save(snapshot);
    if (preview_due) preview();
    if (eval_due) evaluate_heldout();
    if (classifier_due) score_with_classifier();
  };
  // Rank 0 works alone here, for as long as it takes: the others wait on its heartbeat, not on
  // train.dist_timeout (a preview or an evaluation of a large model takes minutes on a CPU).
  if (comm_)
    return comm_->rank0_work("checkpoint, previews and evaluation at step " + std::to_string(step),
                             work);
  work();
}

// A metrics row and the progress line: loss, learning rate, images/s and ETA.
void Trainer::log_interval() {
  const auto& meta = state_.meta;
  const double ips = interval_.steps * tc_.batch_size * tc_.grad_accum /
                     std::max(seconds_since(interval_.start), 1e-9);
  const double eta = seconds_since(run_start_) / static_cast<double>(meta.step - start_step_) *
                     static_cast<double>(tc_.steps - meta.step);
  result_.last_loss = interval_.loss_sum / std::max<int64_t>(interval_.steps, 1);
  record({{"step", meta.step},
          {"loss", result_.last_loss},
          {"lr", last_applied_.lr},
          {"grad_norm", last_applied_.grad_norm},
          {"images_per_sec", ips},
          {"epoch", sampler_->position().epoch},
          {"nonfinite_skipped", meta.nonfinite_skipped}},
         "train/");
  std::ostringstream line;
  line << "step " << meta.step << "/" << tc_.steps << " | loss " << std::setprecision(4)
       << result_.last_loss << " | lr " << std::setprecision(3) << last_applied_.lr << " | "
       << std::fixed << std::setprecision(1) << ips << " img/s | ETA " << format_duration(eta);
  progress_.update(line.str());
  if (meta.step >= tc_.steps) progress_.end();
  interval_ = Interval{};
}

void Trainer::save(bool snapshot) {
  state_.meta.data = sampler_->position();
  folder_->save(state_.serialize(), state_.meta.step, snapshot, tc_.keep_snapshots);
}

// The EMA's samples as `ddpm sample` draws them by default (class-conditional models: n / classes
// of every class, with the configured guidance), from seed 0.
GenerateOptions Trainer::preview_options(int64_t n) const {
  return every_class_options(config_, n, 0);
}

void Trainer::preview() {
  const GenerateOptions g = preview_options(tc_.preview_n);
  const Image grid = make_grid(generate(state_.shadow, diffusion_, g), grid_columns(g));
  const int64_t step = state_.meta.step;
  write_png(folder_->preview_path(step), grid,
            {{"ddpm:step", std::to_string(step)}, {"ddpm:weights", "ema"}});
  if (events_)
    events_->image(step, "preview/ema", grid.height, grid.width, grid.channels, encode_png(grid));
}

// Classifier FID against its real-vs-real floor, class accuracy and confidence of the EMA's
// samples, as `ddpm eval --classifier` reports them.
void Trainer::score_with_classifier() {
  const auto s = ddpm::evaluate_classifier(state_.shadow, diffusion_, *classifier_, heldout_,
                                           preview_options(tc_.classifier_n));
  nlohmann::json row = {
      {"step", state_.meta.step},   {"fid", s.fid},
      {"fid_floor", s.fid_floor},   {"fid_ratio", s.fid / std::max(s.fid_floor, 1e-12)},
      {"confidence", s.confidence}, {"samples", s.samples}};
  if (s.accuracy >= 0) row["accuracy"] = s.accuracy;
  if (s.real_accuracy >= 0) row["real_accuracy"] = s.real_accuracy;
  record(row, "classifier/");
  progress_.end();
  log_ << "classifier at step " << state_.meta.step << ": FID " << s.fid << " (floor "
       << s.fid_floor << ", " << s.fid / std::max(s.fid_floor, 1e-12) << "×)";
  if (s.accuracy >= 0)
    log_ << ", class accuracy " << s.accuracy << " (real " << s.real_accuracy << ")";
  log_ << ", confidence " << s.confidence << "\n";
}

void Trainer::evaluate_heldout() {
  const auto m =
      ddpm::evaluate_heldout(state_.model, state_.shadow, diffusion_, heldout_, tc_, device_);
  nlohmann::json row = {
      {"step", state_.meta.step}, {"heldout_loss", m.loss}, {"heldout_loss_ema", m.loss_ema}};
  if (m.has_bpd) row["heldout_bpd_ema"] = m.bpd_ema;
  record(row, "heldout/");
  progress_.end();
  log_ << "held-out at step " << state_.meta.step << ": loss " << m.loss << " (EMA " << m.loss_ema
       << ")" << (m.has_bpd ? ", " + std::to_string(m.bpd_ema) + " bits/dim (EMA)" : std::string())
       << "\n";
}

// A row of metrics.jsonl, and its numbers (step and epoch aside) as TensorBoard scalars.
void Trainer::record(const nlohmann::json& row, const std::string& prefix) {
  metrics_ << row.dump() << "\n" << std::flush;
  if (!events_) return;
  for (auto it = row.begin(); it != row.end(); ++it) {
    if (it.key() != "step" && it.key() != "epoch" && it.value().is_number()) {
      events_->scalar(state_.meta.step, prefix + it.key(), it.value().get<double>());
    }
  }
}

TrainResult Trainer::run() {
  signals_ = std::make_unique<StopSignals>();
  const int64_t batch = tc_.batch_size * tc_.grad_accum;
  log_ << "training " << config_.name << ": " << count_parameters(*state_.model) << " parameters, "
       << data_.size() << " images, batch " << batch << ", on " << describe_device(device_);
  if (comm_) log_ << " × " << comm_->world() << " workers (" << batch / comm_->world() << " each)";
  log_ << ", run folder " << run_dir(config_) << "\n";
  run_start_ = Clock::now();
  interval_.start = run_start_;
  start_step_ = state_.meta.step;
  state_.model->train();
  bool stopped = false;
  while (state_.meta.step < tc_.steps && !(stopped = should_stop())) {
    if (train_one_step()) after_step();
  }
  finish(stopped || should_stop());  // a signal during the last step still reports the stop
  result_.step = state_.meta.step;
  result_.checkpoint = last_path_;
  return result_;
}

// A single process stops at its own signal; workers stop together, at the step where any of them
// reported one (the flag travels with the gradients).
bool Trainer::should_stop() const { return comm_ ? stop_agreed_ : signals_->received() != 0; }

void Trainer::finish(bool stopped) {
  if (stopped) {
    if (writer_) save(false);
    progress_.end();
    const int signal = signals_->received();
    log_ << (signal ? "stopped by signal " + std::to_string(signal)
                    : std::string("stopped: another worker received a stop signal"))
         << " at step " << state_.meta.step << "; checkpoint saved to " << last_path_
         << " (continue with --resume)\n";
    result_.interrupted = true;
  } else if (state_.meta.step == start_step_ && writer_) {
    save(false);  // nothing to train (steps already reached): still leave a checkpoint
  }
}

}  // namespace

void check_world_fits(const Config& config, int workers) {
  const int64_t batch = config.train.batch_size;
  if (batch % workers != 0) {
    throw Error("train.batch_size = " + std::to_string(batch) + " does not divide among " +
                std::to_string(workers) + " workers; make it a multiple of " +
                std::to_string(workers) + " (each worker takes batch_size / workers)");
  }
}

TrainResult train(const Config& config, const TrainOptions& options, std::ostream& log) {
  return Trainer(config, options, log).run();
}

}  // namespace ddpm
