#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ddpm/benchmark.h"
#include "ddpm/commands.h"
#include "ddpm/config_loading.h"

namespace ddpm {

int command_bench(int argc, char** argv) {
  cxxopts::Options options(argv[0],
                           "Time training and sampling steps of a config's network: median images/s, "
                           "ms/step, GFLOP/s and peak memory after warm-up.");
  add_config_options(options);
  options.add_options()("batch", "training batch (default: the config's train.batch_size)",
                        cxxopts::value<int64_t>()->default_value("0"))(
      "sample-batch", "sampling batch (default: the training batch)",
      cxxopts::value<int64_t>()->default_value("0"))(
      "warmup", "untimed steps first", cxxopts::value<int64_t>()->default_value("3"))(
      "repeats", "timed steps (the median is reported)",
      cxxopts::value<int64_t>()->default_value("10"))(
      "what", "train, sample or both", cxxopts::value<std::string>()->default_value("train,sample"))(
      "bf16", "bf16 autocast of the network")("json", "print one JSON object instead of a table");
  add_runtime_options(options);
  cxxopts::ParseResult args;
  if (!parse_options(options, argc, argv, args)) return 0;
  if (!args.count("config")) throw UsageError("give --config FILE", options.help());
  const Config config = config_from_args(args);

  BenchOptions bench;
  bench.batch = args["batch"].as<int64_t>();
  bench.sample_batch = args["sample-batch"].as<int64_t>();
  bench.warmup = args["warmup"].as<int64_t>();
  bench.repeats = args["repeats"].as<int64_t>();
  bench.bf16 = args.count("bf16") > 0;
  bench.what.clear();
  std::stringstream what(args["what"].as<std::string>());
  for (std::string item; std::getline(what, item, ',');) bench.what.push_back(item);
  bench.device = runtime_from_args(args);

  const BenchReport report = run_benchmark(config, bench, std::cerr);
  if (args.count("json")) {
    std::cout << bench_to_json(report).dump() << "\n";
  } else {
    std::cout << bench_to_text(report);
  }
  return 0;
}

}  // namespace ddpm
