// `ddpm bench`: times the real training step (TrainStep) and sampling step (ancestral_step) after
// warm-up, and reports medians, achieved GFLOP/s, peak memory and the machine.
#pragma once
#include <torch/types.h>

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "ddpm/config/config.h"

namespace ddpm {

struct BenchOptions {
  int64_t batch = 0;         // training batch; 0: train.batch_size
  int64_t sample_batch = 0;  // sampling batch; 0: the training batch
  int64_t warmup = 3;
  int64_t repeats = 10;
  std::vector<std::string> what = {"train", "sample"};
  torch::Device device = torch::kCPU;
  bool bf16 = false;
};

struct BenchRun {
  std::string what;  // train | sample
  int64_t batch = 0;
  std::vector<double> seconds;  // one per repeat
  double median_seconds = 0.0;
  double images_per_sec = 0.0;
  double gflops_per_sec = 0.0;
  double peak_memory_mb =
      0.0;  // CPU: peak resident set of the process during this run; CUDA: peak allocated
};

struct BenchReport {
  std::string config_name;
  int64_t parameters = 0;
  double forward_gflops_per_image = 0.0;
  std::string device, machine, torch_version, build;
  int64_t threads = 0;
  bool bf16 = false;
  std::vector<BenchRun> runs;
};

BenchReport run_benchmark(const Config& config, const BenchOptions& options, std::ostream& log);
nlohmann::json bench_to_json(const BenchReport& report);
std::string bench_to_text(const BenchReport& report);

}  // namespace ddpm
