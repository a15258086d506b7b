#include <cstdlib>
#include <iostream>
#include <sstream>

#include "ddpm/base/error.h"
#include "ddpm/base/progress.h"
#include "ddpm/base/runtime.h"
#include "ddpm/cli/commands.h"
#include "ddpm/cli/config_loading.h"
#include "ddpm/distributed/distributed.h"
#include "ddpm/distributed/launcher.h"
#include "ddpm/io/checkpoint.h"
#include "ddpm/training/trainer.h"
#include "ddpm/training/worker_group.h"

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

Weights init_weights_flag(const std::string& text) {
  if (text == "ema") return Weights::ema;
  if (text == "raw") return Weights::raw;
  throw Error("--init-weights " + text + ": expected ema or raw");
}

// The worker's command line: this one without --nproc.
std::vector<std::string> worker_argv(int argc, char** argv) {
  std::vector<std::string> out{"ddpm", "train"};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--nproc") {
      ++i;
    } else if (a.rfind("--nproc=", 0) != 0) {
      out.push_back(a);
    }
  }
  return out;
}

int launch(const Config& config, int nproc, int argc, char** argv) {
  if (std::getenv("RANK") || std::getenv("WORLD_SIZE")) {
    throw Error(
        "--nproc: this process is already a worker (RANK/WORLD_SIZE are set, as torchrun "
        "sets them); use either torchrun or --nproc");
  }
  if (nproc < 1) throw Error("--nproc " + std::to_string(nproc) + ": expected at least 1 worker");
  check_world_fits(config, nproc);
  check_backend(pick_device(config.train.device));  // before any worker starts
  LaunchOptions launch;
  launch.nproc = nproc;
  launch.argv = worker_argv(argc, argv);
  launch.grace = std::chrono::seconds(config.train.dist_timeout + 10);
  return launch_local_workers(launch, std::cerr);
}

// A worker's errors say which worker it is.
TrainResult train_worker(const Config& config, const TrainOptions& options) {
  if (!options.world.distributed()) return train(config, options, std::cerr);
  try {
    return train(config, options, std::cerr);
  } catch (const Error& e) {
    throw Error("rank " + std::to_string(options.world.rank) + ": " + e.what());
  }
}

}  // namespace

int command_train(int argc, char** argv) {
  cxxopts::Options options(argv[0],
                           "Train a diffusion model (new run, or continue one with --resume).");
  add_config_options(options);
  options.add_options()(
      "resume", "continue from <run>/last.pt, or from the checkpoint given as --resume PATH",
      cxxopts::value<std::string>()->implicit_value(""))(
      "nproc",
      "start N data-parallel workers on this machine (torchrun's environment is read without it)",
      cxxopts::value<int>())(
      "init",
      "fine-tune: a new run whose model and EMA start from this checkpoint's weights (or a "
      ".safetensors export's); step 0, a fresh optimizer, this config's data",
      cxxopts::value<std::string>())("init-weights", "--init from a checkpoint: ema or raw",
                                     cxxopts::value<std::string>()->default_value("ema"));
  ArgList args(argc, argv);
  args.join_optional_value("--resume");  // accept "--resume PATH" as well as "--resume=PATH"
  cxxopts::ParseResult parsed;
  if (!parse_options(options, args.argc(), args.argv(), parsed)) return 0;

  TrainOptions train_options;
  train_options.resume = parsed.count("resume") > 0;
  if (train_options.resume) train_options.resume_from = parsed["resume"].as<std::string>();
  if (parsed.count("init")) {
    if (train_options.resume) throw Error("--init and --resume exclude each other");
    if (!parsed.count("config")) throw Error("--init needs --config FILE (the new run's settings)");
    train_options.init_from = parsed["init"].as<std::string>();
    train_options.init_weights = init_weights_flag(parsed["init-weights"].as<std::string>());
  }
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
  if (parsed.count("nproc")) return launch(config, parsed["nproc"].as<int>(), argc, argv);
  train_options.world = world_from_environment();
  train_options.terminal = stderr_is_terminal();
  train_options.nonfinite_steps = nonfinite_injections();
  TrainResult result = train_worker(config, train_options);
  if (train_options.world.rank != 0) return 0;
  std::cerr << (result.interrupted ? "interrupted" : "done") << ": step " << result.step
            << ", checkpoint " << result.checkpoint << "\n";
  return 0;
}

}  // namespace ddpm
