#include "ddpm/training/benchmark.h"

#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "ddpm/base/compat.h"
#include "ddpm/base/error.h"
#include "ddpm/base/runtime.h"
#include "ddpm/base/stopwatch.h"
#include "ddpm/data/dataset.h"
#include "ddpm/diffusion/diffusion.h"
#include "ddpm/model/unet.h"
#include "ddpm/sampling/samplers.h"
#include "ddpm/training/train_step.h"

#if DDPM_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <torch/cuda.h>
#endif

namespace ddpm {
namespace {

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
    }
  }
  return "unknown CPU";
}

// Peak resident set size (VmHWM) in MB; reset_peak_rss() restarts it (Linux clear_refs 5).
double peak_rss_mb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0.0;
}
void reset_peak_rss() { std::ofstream("/proc/self/clear_refs") << "5"; }

void synchronize(const torch::Device& device) {
#if DDPM_WITH_CUDA
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
#endif
}

void reset_peak_memory(const torch::Device& device) {
#if DDPM_WITH_CUDA
  if (device.is_cuda()) {
    c10::cuda::CUDACachingAllocator::resetPeakStats(device.index());
    return;
  }
#endif
  reset_peak_rss();
}

double peak_memory_mb(const torch::Device& device) {
#if DDPM_WITH_CUDA
  if (device.is_cuda()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
    return static_cast<double>(stats.allocated_bytes[0].peak) / (1024.0 * 1024.0);
  }
#endif
  return peak_rss_mb();
}

template <class Step>
BenchRun time_steps(const std::string& what, int64_t batch, const BenchOptions& options,
                    const torch::Device& device, Step&& step) {
  BenchRun run;
  run.what = what;
  run.batch = batch;
  reset_peak_memory(device);
  for (int64_t i = 0; i < options.warmup; ++i) step();
  synchronize(device);
  for (int64_t i = 0; i < options.repeats; ++i) {
    const Stopwatch watch;
    step();
    synchronize(device);
    run.seconds.push_back(watch.seconds());
  }
  auto sorted = run.seconds;
  std::sort(sorted.begin(), sorted.end());
  const size_t n = sorted.size();
  run.median_seconds = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
  run.images_per_sec = static_cast<double>(batch) / run.median_seconds;
  run.peak_memory_mb = peak_memory_mb(device);
  return run;
}

// What every run shares: the settings, model, diffusion and the report's header.
struct Bench {
  Bench(const Config& config, const BenchOptions& options)
      : cfg(bench_config(config, options)),
        options(options),
        device(options.device),
        state(seeded(cfg), device),
        diffusion(cfg.diffusion) {
    diffusion.to(device);
  }
  // The model starts from the config's seed, as in training.
  static const Config& seeded(const Config& cfg) {
    torch::manual_seed(static_cast<uint64_t>(cfg.train.seed));
    return cfg;
  }
  static Config bench_config(Config cfg, const BenchOptions& options) {
    if (options.batch > 0) cfg.train.batch_size = options.batch;
    cfg.train.grad_accum = 1;
    if (options.bf16) cfg.train.precision = Precision::bf16;
    return cfg;
  }
  Config cfg;
  const BenchOptions& options;
  torch::Device device;
  TrainState state;
  GaussianDiffusion diffusion;
};

BenchReport report_header(Bench& b) {
  BenchReport report;
  UNet& model = b.state.model;
  report.config_name = b.cfg.name;
  report.parameters = count_parameters(*model);
  report.forward_gflops_per_image = model->forward_flops() / 1e9;
  report.device = describe_device(b.device);
  report.threads = at::get_num_threads();
  report.torch_version = compat::version_string();
  report.build = std::string(at::hasMKLDNN() ? "oneDNN" : "no oneDNN") +
                 (at::hasOpenMP() ? ", OpenMP" : "") + (at::hasCUDA() ? ", CUDA" : ", CPU only");
  report.machine =
      cpu_model() + ", " + std::to_string(std::thread::hardware_concurrency()) + " cores";
#if DDPM_WITH_CUDA
  if (b.device.is_cuda()) report.machine += ", GPU " + describe_device(b.device);
#endif
  report.bf16 = b.options.bf16;
  return report;
}

// Training steps on images held as the trainer holds them: uint8 in memory, converted per batch.
BenchRun bench_train(Bench& b, double forward_gflops) {
  const auto& mc = b.cfg.model;
  const int64_t B = b.cfg.train.batch_size;
  auto images =
      torch::randint(0, 256, {B, mc.in_channels, mc.image_size, mc.image_size}, torch::kUInt8);
  auto labels =
      mc.num_classes > 0 ? torch::randint(0, mc.num_classes, {B}, torch::kLong) : torch::Tensor();
  TrainStep step(b.cfg, b.state, b.diffusion, b.device);
  b.state.model->train();
  int64_t n = 0;
  auto run = time_steps("train", B, b.options, b.device, [&] {
    step.accumulate(to_model_range(images), labels, n, 0);
    step.apply(n++);
  });
  // Backward costs two products per forward one: 3× the forward FLOPs per training image.
  run.gflops_per_sec = 3.0 * forward_gflops * run.images_per_sec;
  return run;
}

// Ancestral steps at a mid-range t (every step costs the same) with the EMA network.
BenchRun bench_sample(Bench& b, int64_t SB, double forward_gflops) {
  const auto& mc = b.cfg.model;
  c10::InferenceMode inference;
  std::vector<uint64_t> seeds;
  for (int64_t i = 0; i < SB; ++i) seeds.push_back(static_cast<uint64_t>(i));
  NoiseStream noise(seeds, {mc.in_channels, mc.image_size, mc.image_size}, b.device);
  auto labels = mc.num_classes > 0
                    ? torch::full({SB}, b.state.shadow->null_class(),
                                  torch::TensorOptions().dtype(torch::kLong).device(b.device))
                    : torch::Tensor();
  Denoiser denoiser = [&](const torch::Tensor& x, const torch::Tensor& t) {
    compat::AutocastScope autocast(b.device, b.options.bf16);
    return b.state.shadow->forward(x, t, labels).to(torch::kFloat32);
  };
  auto x = noise.next();
  const int64_t t = b.diffusion.timesteps() / 2;
  auto run = time_steps("sample", SB, b.options, b.device, [&] {
    x = ancestral_step(b.diffusion, denoiser, x, t, noise, b.cfg.sample.clip_denoised);
  });
  run.gflops_per_sec = forward_gflops * run.images_per_sec;
  return run;
}

}  // namespace

BenchReport run_benchmark(const Config& config, const BenchOptions& options, std::ostream& log) {
  // The command line checks its flags; these are the library's own preconditions.
  if (options.warmup < 0 || options.repeats < 1 || options.batch < 0 || options.sample_batch < 0 ||
      options.what.empty()) {
    throw Error("benchmark: warmup >= 0, repeats >= 1, batches >= 0 and at least one part needed");
  }
  Bench bench(config, options);
  BenchReport report = report_header(bench);
  const int64_t B = bench.cfg.train.batch_size;
  const int64_t SB = options.sample_batch > 0 ? options.sample_batch : B;
  for (const auto& what : options.what) {
    if (what == "train") {
      log << "bench: training steps, batch " << B << " ..." << std::flush;
      report.runs.push_back(bench_train(bench, report.forward_gflops_per_image));
    } else if (what == "sample") {
      log << "bench: sampling steps, batch " << SB << " ..." << std::flush;
      report.runs.push_back(bench_sample(bench, SB, report.forward_gflops_per_image));
    } else {
      throw Error("benchmark: unknown part '" + what + "' (expected train or sample)");
    }
    log << " done\n";
  }
  return report;
}

nlohmann::json bench_to_json(const BenchReport& r) {
  nlohmann::json runs = nlohmann::json::array();
  for (const auto& run : r.runs) {
    runs.push_back({{"what", run.what},
                    {"batch", run.batch},
                    {"ms_per_step", run.median_seconds * 1e3},
                    {"images_per_sec", run.images_per_sec},
                    {"gflops_per_sec", run.gflops_per_sec},
                    {"peak_memory_mb", run.peak_memory_mb},
                    {"seconds", run.seconds}});
  }
  return {{"implementation", "ddpm"},
          {"config", r.config_name},
          {"parameters", r.parameters},
          {"forward_gflops_per_image", r.forward_gflops_per_image},
          {"device", r.device},
          {"threads", r.threads},
          {"machine", r.machine},
          {"torch", r.torch_version},
          {"build", r.build},
          {"bf16", r.bf16},
          {"runs", runs}};
}

std::string bench_to_text(const BenchReport& r) {
  std::ostringstream os;
  os << "ddpm bench: " << r.config_name << ", " << r.parameters << " parameters, " << std::fixed
     << std::setprecision(3) << r.forward_gflops_per_image << " GFLOP forward per image\n"
     << "machine: " << r.machine << "; LibTorch " << r.torch_version << " (" << r.build << "); "
     << r.device << (r.bf16 ? ", bf16 autocast" : "") << "\n";
  for (const auto& run : r.runs) {
    os << "  " << std::left << std::setw(6) << run.what << std::right << " batch " << std::setw(4)
       << run.batch << ": " << std::setprecision(1) << std::setw(9) << run.median_seconds * 1e3
       << " ms/step " << std::setw(9) << run.images_per_sec << " images/s " << std::setw(7)
       << run.gflops_per_sec << " GFLOP/s  peak " << std::setprecision(0) << run.peak_memory_mb
       << " MB\n";
  }
  return os.str();
}

}  // namespace ddpm
