#include "ddpm/training/trainer.h"

#include <cmath>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "ddpm/base/error.h"
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
#include "ddpm/training/init_weights.h"
#include "ddpm/training/run_folder.h"
#include "ddpm/training/run_log.h"
#include "ddpm/training/train_state.h"
#include "ddpm/training/train_step.h"
#include "ddpm/training/worker_group.h"

namespace ddpm {

namespace {

DataOptions data_options(const Config& config) {
  return {config.model.image_size, config.model.in_channels, config.model.num_classes > 0,
          config.data.disk_cache};
}

class Trainer {
 public:
  Trainer(const Config& config, const TrainOptions& options, std::ostream& log);
  TrainResult run();

 private:
  std::unique_ptr<RunFolder> open_folder(const TrainOptions& options);
  void share_weights();
  void load_data();
  void resume();
  void initialise();
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

  const Config& config_;
  const TrainConfig& tc_;
  TrainOptions options_;
  WorkerGroup group_;
  bool writer_;  // rank 0 (or the only process): writes the run folder and the log
  RunLog log_;
  std::unique_ptr<RunFolder> folder_;  // rank 0 only
  std::string last_path_;
  TrainState state_;
  GaussianDiffusion diffusion_;
  TrainStep step_;
  Dataset data_, heldout_;
  std::unique_ptr<Classifier> classifier_;
  std::unique_ptr<BatchSampler> sampler_;
  TrainResult result_;
  AppliedStep last_applied_;
  int64_t start_step_ = 0;
  int64_t consecutive_nonfinite_ = 0;
  std::unique_ptr<StopSignals> signals_;
  bool stop_agreed_ = false;
};

Trainer::Trainer(const Config& config, const TrainOptions& options, std::ostream& log)
    : config_(config),
      tc_(config.train),
      options_(options),
      group_(config, options.world),
      writer_(group_.writer()),
      log_(log, options.terminal, writer_),
      folder_(open_folder(options)),
      last_path_((std::filesystem::path(run_dir(config)) / "last.pt").string()),
      state_(config, group_.device()),
      diffusion_(config.diffusion),
      step_(config, state_, diffusion_, group_.device(), group_.communicator()) {
  diffusion_.to(group_.device());
  group_.on_all("data loading", [&] { load_data(); });
  state_.meta.class_names = data_.class_names;
  if (options.resume) resume();
  if (!options.init_from.empty()) initialise();
  share_weights();
  if (writer_) folder_->write_config(config);
  open_outputs();
  sampler_ = std::make_unique<BatchSampler>(data_, config.data.random_flip, state_.meta.data,
                                            config.data.class_balance);
}

// Rank 0 checks and creates the run folder; the others never touch it.
std::unique_ptr<RunFolder> Trainer::open_folder(const TrainOptions& options) {
  std::unique_ptr<RunFolder> folder;
  group_.on_all("start-up (run folder)", [&] {
    if (writer_) folder = std::make_unique<RunFolder>(config_, options.resume, options.resume_from);
  });
  return folder;
}

// Every worker starts from rank 0's weights and EMA, fresh or resumed.
void Trainer::share_weights() {
  if (group_.size() == 1) return;
  std::vector<torch::Tensor> tensors = state_.model->parameters();
  for (const auto& p : state_.shadow->parameters()) tensors.push_back(p);
  for (const auto& b : state_.model->buffers()) tensors.push_back(b);
  for (const auto& b : state_.shadow->buffers()) tensors.push_back(b);
  group_.share(tensors);
}

void Trainer::load_data() {
  DataOptions options = data_options(config_);
  options.write_cache = writer_;
  data_ = load_image_folder(config_.data.path, options, log_.line());
  const int64_t classes = config_.model.num_classes;
  if (classes > 0 && static_cast<int64_t>(data_.class_names.size()) != classes) {
    throw Error("model.num_classes = " + std::to_string(classes) + " but " + config_.data.path +
                " has " + std::to_string(data_.class_names.size()) +
                " class subfolders; make them agree");
  }
}

void Trainer::resume() {
  const Checkpoint checkpoint = group_.read_checkpoint([&] { return folder_->resume_path(); });
  const std::string& path = checkpoint.path();
  group_.on_all("resume", [&] { state_.restore(checkpoint, group_.device()); });
  const DataPosition& at = state_.meta.data;
  if (at.index > data_.size()) {
    throw Error(path + ": the saved data position (epoch " + std::to_string(at.epoch) + ", index " +
                std::to_string(at.index) + ") lies beyond the " + std::to_string(data_.size()) +
                " images of " + config_.data.path +
                "; the folder lost images since the run saved, restore them or start a new run");
  }
  log_.line() << "resumed from " << path << " at step " << state_.meta.step << "\n";
}

// Fine-tuning: rank 0 reads the weights, and share_weights() then gives them to the others.
void Trainer::initialise() {
  group_.on_all("start-up (--init)", [&] {
    if (!writer_) return;
    const InitWeights init = read_init_weights(options_.init_from, options_.init_weights);
    log_.line() << apply_init_weights(init, data_.class_names, state_.model, state_.shadow) << "\n";
  });
}

// TensorBoard: one event file per process in the run folder; resumed runs add a file, and their
// steps continue from the checkpoint's. The held-out set and the classifier are read once.
void Trainer::open_outputs() {
  if (!writer_) return;
  log_.open_files(folder_->path(), tc_.tensorboard);
  if (tc_.eval_every > 0 || tc_.classifier_every > 0) {
    DataOptions heldout_options = data_options(config_);
    heldout_options.key = "data.heldout_path";
    heldout_ = load_image_folder(config_.data.heldout_path, heldout_options, log_.line());
  }
  if (tc_.classifier_every > 0) {
    classifier_ = std::make_unique<Classifier>(tc_.classifier, group_.device());
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
  const bool stop_here = group_.size() > 1 && signals_->received() != 0;
  const AgreedStep agreed = step_.reduce(loss, stop_here);
  stop_agreed_ = agreed.stop;
  const double value = agreed.loss;
  if (!std::isfinite(value)) {
    skip_nonfinite_step();
    return false;
  }
  consecutive_nonfinite_ = 0;
  last_applied_ = step_.apply(state_.meta.step);
  ++state_.meta.step;
  log_.count_step(value);
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
  log_.line() << "warning: non-finite loss at step " << meta.step << ", step skipped ("
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
  // Rank 0 works alone here, for as long as it takes (a preview or an evaluation of a large model
  // takes minutes on a CPU).
  group_.rank0_work("checkpoint, previews and evaluation at step " + std::to_string(step), [&] {
    if (!writer_) return;
    if (checkpoint) save(snapshot);
    if (preview_due) preview();
    if (eval_due) evaluate_heldout();
    if (classifier_due) score_with_classifier();
  });
}

// A metrics row and the progress line: loss, learning rate, images/s and ETA.
void Trainer::log_interval() {
  StepReport report;
  report.step = state_.meta.step;
  report.steps = tc_.steps;
  report.images_per_step = tc_.batch_size * tc_.grad_accum;
  report.lr = last_applied_.lr;
  report.grad_norm = last_applied_.grad_norm;
  report.epoch = sampler_->position().epoch;
  report.nonfinite_skipped = state_.meta.nonfinite_skipped;
  result_.last_loss = log_.log_interval(report);
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
  log_.image(step, "preview/ema", grid);
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
  log_.record(state_.meta.step, row, "classifier/");
  std::ostream& out = log_.line();
  out << "classifier at step " << state_.meta.step << ": FID " << s.fid << " (floor " << s.fid_floor
      << ", " << s.fid / std::max(s.fid_floor, 1e-12) << "×)";
  if (s.accuracy >= 0)
    out << ", class accuracy " << s.accuracy << " (real " << s.real_accuracy << ")";
  out << ", confidence " << s.confidence << "\n";
}

void Trainer::evaluate_heldout() {
  const auto m = ddpm::evaluate_heldout(state_.model, state_.shadow, diffusion_, heldout_, tc_,
                                        group_.device());
  nlohmann::json row = {
      {"step", state_.meta.step}, {"heldout_loss", m.loss}, {"heldout_loss_ema", m.loss_ema}};
  if (m.has_bpd) row["heldout_bpd_ema"] = m.bpd_ema;
  log_.record(state_.meta.step, row, "heldout/");
  log_.line() << "held-out at step " << state_.meta.step << ": loss " << m.loss << " (EMA "
              << m.loss_ema << ")"
              << (m.has_bpd ? ", " + std::to_string(m.bpd_ema) + " bits/dim (EMA)" : std::string())
              << "\n";
}

TrainResult Trainer::run() {
  signals_ = std::make_unique<StopSignals>();
  const int64_t batch = tc_.batch_size * tc_.grad_accum;
  std::ostream& out = log_.line();
  out << "training " << config_.name << ": " << count_parameters(*state_.model) << " parameters, "
      << data_.size() << " images, batch " << batch << ", on " << describe_device(group_.device());
  if (group_.size() > 1)
    out << " × " << group_.size() << " workers (" << batch / group_.size() << " each)";
  out << ", run folder " << run_dir(config_) << "\n";
  log_.start(state_.meta.step);
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
bool Trainer::should_stop() const {
  return group_.size() > 1 ? stop_agreed_ : signals_->received() != 0;
}

void Trainer::finish(bool stopped) {
  if (stopped) {
    if (writer_) save(false);
    const int signal = signals_->received();
    log_.line() << (signal ? "stopped by signal " + std::to_string(signal)
                           : std::string("stopped: another worker received a stop signal"))
                << " at step " << state_.meta.step << "; checkpoint saved to " << last_path_
                << " (continue with --resume)\n";
    result_.interrupted = true;
  } else if (state_.meta.step == start_step_ && writer_) {
    save(false);  // nothing to train (steps already reached): still leave a checkpoint
  }
}

}  // namespace

TrainResult train(const Config& config, const TrainOptions& options, std::ostream& log) {
  return Trainer(config, options, log).run();
}

}  // namespace ddpm
