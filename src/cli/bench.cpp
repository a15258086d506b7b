#include <algorithm>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ddpm/base/error.h"
#include "ddpm/cli/commands.h"
#include "ddpm/cli/config_loading.h"
#include "ddpm/training/benchmark.h"

namespace ddpm {
namespace {

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
  bench.batch = flag_in_range<int64_t>(args, "batch", 0, 65536);
  bench.sample_batch = flag_in_range<int64_t>(args, "sample-batch", 0, 65536);
  bench.warmup = flag_in_range<int64_t>(args, "warmup", 0, 10000);
  bench.repeats = flag_in_range<int64_t>(args, "repeats", 1, 10000);
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
