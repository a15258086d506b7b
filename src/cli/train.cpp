#include <cstdlib>
#include <iostream>
#include <sstream>

#include "ddpm/checkpoint.h"
#include "ddpm/commands.h"
#include "ddpm/config_loading.h"
#include "ddpm/error.h"
#include "ddpm/progress.h"
#include "ddpm/trainer.h"

namespace ddpm {
namespace {

// DDPM_INJECT_NONFINITE="3,3,7": each listed step's loss is made NaN once per listing (a test hook
// for the non-finite skip; unset in normal use). Read here, at the boundary, and passed in
// explicitly.
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

}  // namespace

int command_train(int argc, char** argv) {
  cxxopts::Options options(argv[0],
                           "Train a diffusion model (new run, or continue one with --resume).");
  add_config_options(options);
  options.add_options()(
      "resume", "continue from <run>/last.pt, or from the checkpoint given as --resume PATH",
      cxxopts::value<std::string>()->implicit_value(""));
  ArgList args(argc, argv);
  args.join_optional_value("--resume");  // accept "--resume PATH" as well as "--resume=PATH"
  cxxopts::ParseResult parsed;
  if (!parse_options(options, args.argc(), args.argv(), parsed)) return 0;

  TrainOptions train_options;
  train_options.resume = parsed.count("resume") > 0;
  if (train_options.resume) train_options.resume_from = parsed["resume"].as<std::string>();
  Config config;
  if (parsed.count("config")) {
    config = config_from_args(parsed);
  } else if (!train_options.resume_from.empty()) {
    // The run's own config.
    config = with_overrides(Checkpoint::open(train_options.resume_from).meta().config, parsed);
  } else {
    throw UsageError("give --config FILE (or --resume PATH to continue a checkpoint)",
                     options.help());
  }
  train_options.terminal = stderr_is_terminal();
  train_options.nonfinite_steps = nonfinite_injections();
  TrainResult result = train(config, train_options, std::cerr);
  std::cerr << (result.interrupted ? "interrupted" : "done") << ": step " << result.step
            << ", checkpoint " << result.checkpoint << "\n";
  return 0;
}

}  // namespace ddpm
