#include "ddpm/trainer.h"

#include <unistd.h>

#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/InferenceMode.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "ddpm/atomic_file.h"
#include "ddpm/checkpoint.h"
#include "ddpm/data.h"
#include "ddpm/diffusion.h"
#include "ddpm/ema.h"
#include "ddpm/error.h"
#include "ddpm/progress.h"
#include "ddpm/tensorboard.h"
#include "ddpm/generate.h"
#include "ddpm/image_io.h"
#include "ddpm/likelihood.h"
#include "ddpm/runtime.h"
#include "ddpm/train_step.h"
#include "ddpm/unet.h"

namespace ddpm {
namespace fs = std::filesystem;

namespace {

std::atomic<int> g_stop_signal{0};

extern "C" void on_stop_signal(int signal) { g_stop_signal.store(signal); }

// Installs SIGINT/SIGTERM handlers for the lifetime of the object; a second signal kills as usual.
class StopSignals {
 public:
  StopSignals() {
    g_stop_signal.store(0);
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESETHAND | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~StopSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  int received() const { return g_stop_signal.load(); }

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  int64_t s = static_cast<int64_t>(seconds + 0.5);
  std::ostringstream os;
  os << s / 3600 << ":" << std::setw(2) << std::setfill('0') << (s / 60) % 60 << ":"
     << std::setw(2) << std::setfill('0') << s % 60;
  return os.str();
}

std::string snapshot_name(int64_t step) {
  std::ostringstream os;
  os << "ckpt_" << std::setw(7) << std::setfill('0') << step << ".pt";
  return os.str();
}

// Temporary files of writers that were killed mid-write (".last.pt.tmp.<pid>"): never valid data.
void remove_stale_temporaries(const fs::path& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const auto name = e.path().filename().string();
    if (name.size() > 1 && name[0] == '.' && name.find(".tmp.") != std::string::npos) {
      fs::remove(e.path(), ec);
    }
  }
}

// DDPM_INJECT_NONFINITE="3,3,7": each listed step's loss is made NaN once per listing (a test hook for
// the non-finite skip; unset in normal use).
std::multiset<int64_t> nonfinite_injections() {
  std::multiset<int64_t> steps;
  const char* env = std::getenv("DDPM_INJECT_NONFINITE");
  if (!env) return steps;
  std::stringstream list(env);
  for (std::string item; std::getline(list, item, ',');) {
    try {
      steps.insert(std::stoll(item));
    } catch (const std::exception&) {
      throw Error("DDPM_INJECT_NONFINITE=" + std::string(env) + ": expected comma-separated steps");
    }
  }
  return steps;
}

void prune_snapshots(const fs::path& dir, int64_t keep) {
  std::vector<fs::path> snapshots;
  for (const auto& e : fs::directory_iterator(dir)) {
    const auto name = e.path().filename().string();
    if (name.rfind("ckpt_", 0) == 0 && e.path().extension() == ".pt") snapshots.push_back(e.path());
  }
  std::sort(snapshots.begin(), snapshots.end());
  for (size_t i = 0; i + keep < snapshots.size(); ++i) fs::remove(snapshots[i]);
}

}  // namespace

TrainResult train(const Config& config, const TrainOptions& options, std::ostream& log) {
  const auto& tc = config.train;
  const fs::path dir = run_dir(config);
  const fs::path last = dir / "last.pt";
  std::error_code ec;

  // Refuse to clobber, or find what to resume, before any expensive work.
  std::string resume_path;
  if (options.resume) {
    resume_path = options.resume_from.empty() ? last.string() : options.resume_from;
    if (!fs::exists(resume_path, ec)) {
      throw Error(resume_path + ": no checkpoint to resume from; start a new run without --resume");
    }
  } else if (fs::exists(last, ec) || fs::exists(dir / "config.json", ec)) {
    throw Error("run folder " + dir.string() + " already holds a run; continue it with --resume, "
                "or choose another folder with --set train.run_dir=PATH");
  }
  fs::create_directories(dir, ec);
  if (ec || access(dir.c_str(), W_OK) != 0) {
    throw Error("run folder " + dir.string() + ": cannot create or write (" +
                (ec ? ec.message() : std::string("permission denied")) + ")");
  }

  remove_stale_temporaries(dir);
  configure_threads(tc.threads);
  const torch::Device device = pick_device(tc.device);
  torch::manual_seed(static_cast<uint64_t>(tc.seed));

  UNet model(config.model);
  UNet shadow(config.model);
  model->to(device);
  shadow->to(device);
  shadow->eval();
  GaussianDiffusion diffusion(config.diffusion);
  diffusion.to(device);
  TrainStep step(config, model, shadow, diffusion, device);
  Ema& ema = step.ema();
  torch::optim::AdamW& optimizer = step.optimizer();

  DataOptions data_options{config.model.image_size, config.model.in_channels,
                           config.model.num_classes > 0, config.data.disk_cache};
  Dataset data = load_image_folder(config.data.path, data_options, log);
  if (config.model.num_classes > 0 &&
      static_cast<int64_t>(data.class_names.size()) != config.model.num_classes) {
    throw Error("model.num_classes = " + std::to_string(config.model.num_classes) + " but " +
                config.data.path + " has " + std::to_string(data.class_names.size()) +
                " class subfolders; make them agree");
  }

  CheckpointMeta meta;
  meta.config = config;
  meta.class_names = data.class_names;
  meta.data = DataPosition{0, 0, tc.seed};
  if (options.resume) {
    Checkpoint ckpt = Checkpoint::open(resume_path);
    check_same_model(ckpt.meta().config, config, resume_path);
    if (!ckpt.has("optimizer") || !ckpt.has("ema")) {
      throw Error(resume_path + ": checkpoint has no training state (weights only); cannot resume");
    }
    if (ckpt.meta().class_names != data.class_names) {
      throw Error(resume_path + ": the data folder's classes differ from the checkpoint's");
    }
    ckpt.load_module("model", *model, device);
    ckpt.load_module("ema", *shadow, device);
    ckpt.load_optimizer(optimizer, device);
    ckpt.restore_rng();
    meta.step = ckpt.meta().step;
    meta.data = ckpt.meta().data;
    if (meta.data.index > data.size()) {
      throw Error(resume_path + ": the saved data position (epoch " + std::to_string(meta.data.epoch) +
                  ", index " + std::to_string(meta.data.index) + ") lies beyond the " +
                  std::to_string(data.size()) + " images of " + config.data.path +
                  "; the folder lost images since the run saved, restore them or start a new run");
    }
    meta.nonfinite_skipped = ckpt.meta().nonfinite_skipped;
    ema.set_num_updates(ckpt.meta().ema_updates);
    log << "resumed from " << resume_path << " at step " << meta.step << "\n";
  }
  {
    const std::string text = config_to_string(config) + "\n";
    write_file_atomically((dir / "config.json").string(), text.data(), text.size());
  }

  auto save = [&](const BatchSampler& sampler, bool snapshot) {
    meta.data = sampler.position();
    meta.ema_updates = ema.num_updates();
    auto bytes = serialize_checkpoint(meta, {model.get(), shadow.get(), &optimizer, true});
    try {
      write_file_atomically(last.string(), bytes.data(), bytes.size());
      if (snapshot) {
        write_file_atomically((dir / snapshot_name(meta.step)).string(), bytes.data(), bytes.size());
        prune_snapshots(dir, tc.keep_snapshots);
      }
    } catch (const Error& e) {
      throw Error(std::string(e.what()) + "; saving step " + std::to_string(meta.step) +
                  " failed: free disk space, then continue with --resume");
    }
  };
  // TensorBoard: one event file per process in the run folder; resumed runs add a file, and their
  // steps continue from the checkpoint's.
  std::unique_ptr<EventWriter> events;
  if (tc.tensorboard) events = std::make_unique<EventWriter>(dir.string());
  auto log_scalars = [&](const nlohmann::json& row, const std::string& prefix) {
    if (!events) return;
    for (auto it = row.begin(); it != row.end(); ++it) {
      if (it.key() != "step" && it.key() != "epoch" && it.value().is_number()) {
        events->scalar(meta.step, prefix + it.key(), it.value().get<double>());
      }
    }
  };
  auto preview = [&]() {
    GenerateOptions g;
    g.n = tc.preview_n;
    g.batch = config.sample.batch;
    g.seed = 0;
    g.sampler = sampler_options(config.sample);  // what `ddpm sample` draws by default
    const int64_t classes = config.model.num_classes;
    if (classes > 0) {  // class-conditional: one row per class, with the configured guidance
      g.per_class = std::max<int64_t>(1, tc.preview_n / classes);
      g.n = g.per_class * classes;
      g.guidance = config.sample.guidance;
    }
    auto images = generate(shadow, diffusion, g);
    fs::create_directories(dir / "previews");
    std::ostringstream name;
    name << "step_" << std::setw(7) << std::setfill('0') << meta.step << ".png";
    const Image grid = make_grid(images, grid_columns(g));
    write_png((dir / "previews" / name.str()).string(), grid,
              {{"ddpm:step", std::to_string(meta.step)}, {"ddpm:weights", "ema"}});
    if (events) events->image(meta.step, "preview/ema", grid.height, grid.width, grid.channels, encode_png(grid));
  };

  // Held-out evaluation: fixed images, timesteps and noise from its own generator, so it never
  // disturbs the training RNG (exact resume holds with it on).
  std::ofstream metrics(dir / "metrics.jsonl", std::ios::app);
  Dataset heldout;
  if (tc.eval_every > 0) {
    DataOptions heldout_options = data_options;
    heldout_options.key = "data.heldout_path";
    heldout = load_image_folder(config.data.heldout_path, heldout_options, log);
  }
  auto evaluate_heldout = [&]() {
    c10::InferenceMode inference;
    const int64_t n = std::min(tc.eval_images, heldout.size());
    auto x0 = heldout.images.slice(0, 0, n).to(torch::kFloat32).div(127.5).sub(1.0).to(device);
    torch::Tensor labels;
    if (config.model.num_classes > 0) labels = heldout.labels.slice(0, 0, n).to(device);
    auto gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(tc.seed) + 1);
    auto t = torch::randint(0, diffusion.timesteps(), {n}, gen, torch::kLong).to(device);
    auto noise = torch::randn(x0.sizes(), gen, torch::kFloat32).to(device);
    nlohmann::json row = {{"step", meta.step}};
    for (auto* net : {&model, &shadow}) {
      const bool was_training = (*net)->is_training();
      (*net)->eval();
      auto out = (*net)->forward(diffusion.q_sample(x0, t, noise), t, labels);
      row[net == &model ? "heldout_loss" : "heldout_loss_ema"] =
          diffusion.loss_per_example(out, x0, noise, t).mean().item<double>();
      if (was_training) (*net)->train();
    }
    if (tc.eval_bpd_subset > 0) {
      Denoiser ema_denoiser = [&](const torch::Tensor& x, const torch::Tensor& tt) {
        return shadow->forward(x, tt, labels);
      };
      row["heldout_bpd_ema"] =
          variational_bound(diffusion, ema_denoiser, x0, tc.eval_bpd_subset, tc.seed + 2)
              .total()
              .mean()
              .item<double>();
    }
    metrics << row.dump() << "\n" << std::flush;
    log_scalars(row, "heldout/");
    return row;
  };

  BatchSampler sampler(data, config.data.random_flip, meta.data);
  auto inject = nonfinite_injections();
  StopSignals signals;
  ProgressLine progress(log, &log == &std::cerr && stderr_is_terminal());
  const int64_t images_per_step = tc.batch_size * tc.grad_accum;
  log << "training " << config.name << ": " << count_parameters(*model) << " parameters, "
      << data.size() << " images, batch " << images_per_step << ", on " << describe_device(device)
      << ", run folder " << dir.string() << "\n";

  TrainResult result;
  using clock = std::chrono::steady_clock;
  auto interval_start = clock::now();
  const auto run_start = clock::now();
  const int64_t start_step = meta.step;
  double loss_sum = 0.0, grad_norm = 0.0;
  int64_t loss_count = 0, consecutive_nonfinite = 0;
  model->train();

  while (meta.step < tc.steps && !signals.received()) {
    const double lr = learning_rate_at(tc, meta.step);
    if (auto it = inject.find(meta.step); it != inject.end()) {
      step.poison_next();
      inject.erase(it);
    }
    torch::Tensor step_loss;
    for (int64_t micro = 0; micro < tc.grad_accum; ++micro) {
      auto batch = sampler.next(tc.batch_size);
      auto loss = step.accumulate(batch.images, batch.labels);
      step_loss = micro == 0 ? loss : step_loss + loss;
    }
    const double loss_value = step_loss.item<double>();
    if (!std::isfinite(loss_value)) {
      step.discard();
      ++meta.nonfinite_skipped;
      if (++consecutive_nonfinite >= tc.max_nonfinite) {
        throw Error("the loss was not finite for " + std::to_string(consecutive_nonfinite) +
                    " steps in a row at step " + std::to_string(meta.step) +
                    "; lower train.lr or raise train.warmup_steps (last good checkpoint: " +
                    last.string() + ")");
      }
      progress.end();
      log << "warning: non-finite loss at step " << meta.step << ", step skipped ("
          << meta.nonfinite_skipped << " so far)\n";
      continue;
    }
    consecutive_nonfinite = 0;
    grad_norm = step.apply(meta.step);
    ++meta.step;
    loss_sum += loss_value;
    ++loss_count;

    const bool done = meta.step >= tc.steps;
    if (meta.step % tc.log_every == 0 || done) {
      const double seconds = std::chrono::duration<double>(clock::now() - interval_start).count();
      const double ips = loss_count * images_per_step / std::max(seconds, 1e-9);
      const double total_seconds = std::chrono::duration<double>(clock::now() - run_start).count();
      const double eta = total_seconds / static_cast<double>(meta.step - start_step) *
                         static_cast<double>(tc.steps - meta.step);
      result.last_loss = loss_sum / std::max<int64_t>(loss_count, 1);
      nlohmann::json row = {{"step", meta.step},          {"loss", result.last_loss},
                            {"lr", lr},                   {"grad_norm", grad_norm},
                            {"images_per_sec", ips},      {"epoch", sampler.position().epoch},
                            {"nonfinite_skipped", meta.nonfinite_skipped}};
      metrics << row.dump() << "\n" << std::flush;
      log_scalars(row, "train/");
      std::ostringstream line;
      line << "step " << meta.step << "/" << tc.steps << " | loss " << std::setprecision(4)
           << result.last_loss << " | lr " << std::setprecision(3) << lr << " | "
           << std::fixed << std::setprecision(1) << ips << " img/s | ETA " << format_duration(eta);
      progress.update(line.str());
      if (done) progress.end();
      loss_sum = 0.0;
      loss_count = 0;
      interval_start = clock::now();
    }
    const bool snapshot = tc.snapshot_every > 0 && meta.step % tc.snapshot_every == 0;
    if (meta.step % tc.checkpoint_every == 0 || snapshot || done) save(sampler, snapshot);
    if (tc.preview_every > 0 && (meta.step % tc.preview_every == 0 || done)) preview();
    if (tc.eval_every > 0 && (meta.step % tc.eval_every == 0 || done)) {
      auto row = evaluate_heldout();
      progress.end();
      log << "held-out at step " << meta.step << ": loss " << row["heldout_loss"].get<double>()
          << " (EMA " << row["heldout_loss_ema"].get<double>() << ")"
          << (row.contains("heldout_bpd_ema")
                  ? ", " + std::to_string(row["heldout_bpd_ema"].get<double>()) + " bits/dim (EMA)"
                  : std::string())
          << "\n";
    }
  }

  if (signals.received()) {
    save(sampler, false);
    progress.end();
    log << "stopped by signal " << signals.received() << " at step " << meta.step
        << "; checkpoint saved to " << last.string() << " (continue with --resume)\n";
    result.interrupted = true;
  } else if (meta.step == start_step) {
    save(sampler, false);  // nothing to train (steps already reached): still leave a checkpoint
  }
  result.step = meta.step;
  result.checkpoint = last.string();
  return result;
}

}  // namespace ddpm
