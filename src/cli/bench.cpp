#include <algorithm>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ddpm/benchmark.h"
#include "ddpm/commands.h"
#include "ddpm/config_loading.h"
#include "ddpm/error.h"

namespace ddpm {
namespace {

int64_t bounded(const cxxopts::ParseResult& args, const char* flag, int64_t lo, int64_t hi) {
  const int64_t value = args[flag].as<int64_t>();
  if (value < lo || value > hi) {
    throw Error("--" + std::string(flag) + " " + std::to_string(value) + ": must be in [" +
                std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return value;
}

// "train,sample" → {"train", "sample"}; every item known, none twice, at least one.
std::vector<std::string> parse_parts(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    if (item != "train" && item != "sample") {
      throw Error("--what '" + text + "': expected train, sample or train,sample");
    }
    if (std::find(parts.begin(), parts.end(), item) != parts.end()) {
      throw Error("--what '" + text + "': " + item + " is given twice");
    }
    parts.push_back(item);
  }
  if (parts.empty()) throw Error("--what '" + text + "': expected train, sample or train,sample");
  return parts;
}

}  // namespace

int command_bench(int argc, char** argv) {
  cxxopts::Options options(
      argv[0],
      "Time training and sampling steps of a config's network: median images/s, "
      "ms/step, GFLOP/s and peak memory after warm-up.");
  add_config_options(options);
  options.add_options()("batch", "training batch (default: the config's train.batch_size)",
                        cxxopts::value<int64_t>()->default_value("0"))(
      "sample-batch", "sampling batch (default: the training batch)",
      cxxopts::value<int64_t>()->default_value("0"))("warmup", "untimed steps first",
                                                     cxxopts::value<int64_t>()->default_value("3"))(
      "repeats", "timed steps (the median is reported)",
      cxxopts::value<int64_t>()->default_value("10"))(
      "what", "train, sample or both",
      cxxopts::value<std::string>()->default_value("train,sample"))(
      "bf16", "bf16 autocast of the network")("json", "print one JSON object instead of a table");
  add_runtime_options(options);
  cxxopts::ParseResult args;
  if (!parse_options(options, argc, argv, args)) return 0;
  if (!args.count("config")) throw UsageError("give --config FILE", options.help());
  Config config = config_from_args(args);
  runtime_flags_to_config(args, config);
  validate_flags(config, kRuntimeFlags);

  BenchOptions bench;
  bench.batch = bounded(args, "batch", 0, 65536);
  bench.sample_batch = bounded(args, "sample-batch", 0, 65536);
  bench.warmup = bounded(args, "warmup", 0, 10000);
  bench.repeats = bounded(args, "repeats", 1, 10000);
  bench.bf16 = args.count("bf16") > 0;
  bench.what = parse_parts(args["what"].as<std::string>());
  bench.device = start_runtime(config);

  const BenchReport report = run_benchmark(config, bench, std::cerr);
  if (args.count("json")) {
    std::cout << bench_to_json(report).dump() << "\n";
  } else {
    std::cout << bench_to_text(report);
  }
  return 0;
}

}  // namespace ddpm
