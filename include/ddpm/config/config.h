// Plain configuration structs with the original DDPM's defaults, JSON in/out, validation and
// overrides.
#pragma once
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "ddpm/base/choices.h"

namespace ddpm {

struct ModelConfig {
  int64_t image_size = 32;
  int64_t in_channels = 3;
  int64_t base_channels = 128;
  std::vector<int64_t> channel_mults = {1, 2, 2, 2};
  int64_t num_res_blocks = 2;
  std::vector<int64_t> attention_resolutions = {16};
  int64_t num_heads = 1;
  double dropout = 0.1;
  int64_t num_groups = 32;
  int64_t num_classes = 0;  // > 0: class-conditional, with one extra "null" class for guidance
};

struct DiffusionConfig {
  int64_t timesteps = 1000;
  Schedule schedule = Schedule::linear;
  double beta_start = 1e-4;
  double beta_end = 0.02;
  double cosine_s = 0.008;
  Objective objective = Objective::eps;
  Loss loss = Loss::l2;
  LossWeighting loss_weighting = LossWeighting::none;
  double min_snr_gamma = 5.0;  // γ of min_snr
  Variance variance = Variance::fixed_small;
};

struct DataConfig {
  std::string path = "data/emoji";
  bool random_flip = true;
  // Class-conditional models: class k is drawn in proportion to n_k^(1 - class_balance), from the
  // data's own frequencies (0) to every class equally often (1).
  double class_balance = 0.0;
  bool disk_cache = true;    // keep decoded images in <path>/.ddpm-cache-<size>.bin
  std::string heldout_path;  // optional held-out folder for train.eval_every
};

struct TrainConfig {
  std::string run_dir;  // empty: runs/<config name>
  int64_t steps = 800000;
  int64_t batch_size = 128;
  int64_t grad_accum = 1;
  double lr = 2e-4;
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double adam_eps = 1e-8;
  double weight_decay = 0.0;
  int64_t warmup_steps = 5000;
  // After the warm-up: constant, or decayed to 0 at train.steps (linear or half-cosine).
  LrSchedule lr_schedule = LrSchedule::constant;
  double grad_clip = 1.0;  // <= 0 disables clipping
  double ema_decay = 0.9999;
  int64_t ema_start = 0;
  int64_t ema_every = 1;
  double ema_warmup_power = 0.0;  // > 0: decay = min(ema_decay, 1 - (1 + n)^-power)
  double p_uncond = 0.1;  // class-conditional models: label dropout for classifier-free guidance
  int64_t log_every = 100;
  int64_t checkpoint_every = 5000;
  int64_t snapshot_every = 0;  // numbered snapshots; 0 disables
  int64_t keep_snapshots = 3;
  int64_t preview_every = 5000;  // EMA preview grid; 0 disables
  int64_t preview_n = 16;
  int64_t eval_every = 0;        // held-out loss (and bits/dim) every N steps; 0 disables
  int64_t eval_images = 64;      // held-out images used
  int64_t eval_bpd_subset = 20;  // timesteps for the bits/dim estimate; 0: loss only
  // Classifier scores of EMA samples against data.heldout_path every N steps (0 disables), with a
  // TorchScript classifier of the data set (scripts/quality/fashion_classifier.py) and N samples.
  int64_t classifier_every = 0;
  std::string classifier;
  int64_t classifier_n = 500;
  int64_t max_nonfinite = 20;  // consecutive non-finite losses before the run stops
  int64_t seed = 0;
  int64_t threads = 0;         // 0: all cores (divided among the workers of one machine)
  int64_t dist_timeout = 600;  // seconds a data-parallel worker waits for the others
  // Seconds the other workers wait for rank 0's checkpoint, previews and evaluation while its
  // heartbeat beats (a live but hung rank 0); 0: no limit.
  int64_t rank0_work_timeout = 0;
  std::string device = "auto";  // auto | cpu | cuda | cuda:N
  Precision precision = Precision::fp32;
  bool tensorboard = true;  // TensorBoard event file in the run folder
};

struct SampleConfig {
  Sampler sampler = Sampler::ddpm;
  int64_t steps = 0;  // 0: the sampler's default (sampling/plan.h: kSamplerDefaults)
  // ddim, dpmpp2m: uniform, quadratic or logsnr timesteps; auto: the sampler's default.
  Spacing spacing = Spacing::automatic;
  double eta = 0.0;
  double churn = 0.0;  // heun: S_churn
  bool clip_denoised = true;
  int64_t batch = 64;
  double guidance = 0.0;
  // [σ_min, σ_max]: guidance only at the noise levels σ_t = √((1 − ᾱ_t)/ᾱ_t) in that interval
  // (Kynkäänniemi et al. 2024); empty: at every step.
  std::vector<double> guidance_interval;
};
// The rule for a guidance interval: empty, or [σ_min, σ_max] with 0 <= σ_min < σ_max, both finite.
bool valid_guidance_interval(const std::vector<double>& interval);

struct Config {
  std::string name = "ddpm";
  ModelConfig model;
  DiffusionConfig diffusion;
  DataConfig data;
  TrainConfig train;
  SampleConfig sample;
};

// Reads a JSON config; missing keys keep their defaults. `name` defaults to the file's stem.
Config load_config(const std::string& path);
// Parses JSON text; `origin` names the source in error messages.
Config config_from_json_text(const std::string& text, const std::string& origin);
Config config_from_json(const nlohmann::json& json, const std::string& origin);
nlohmann::json config_to_json(const Config& config);
std::string config_to_string(const Config& config);  // pretty JSON

// Applies "section.key=value" (value parsed as JSON, else taken as a string).
void apply_override(Config& config, const std::string& assignment);

// Throws ddpm::Error naming the key and what is wrong.
void validate(const Config& config);

// The run folder: train.run_dir, or runs/<name>.
std::string run_dir(const Config& config);

}  // namespace ddpm
