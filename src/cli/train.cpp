#include <iostream>

#include "ddpm/checkpoint.h"
#include "ddpm/commands.h"
#include "ddpm/config_loading.h"
#include "ddpm/error.h"
#include "ddpm/trainer.h"

namespace ddpm {

int command_train(int argc, char** argv) {
  cxxopts::Options options(argv[0], "Train a diffusion model (new run, or continue one with --resume).");
  add_config_options(options);
  options.add_options()("resume",
                        "continue from <run>/last.pt, or from the checkpoint given as --resume PATH",
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
    config = Checkpoint::open(train_options.resume_from).meta().config;  // the run's own config
    if (parsed.count("set")) {
      for (const auto& a : parsed["set"].as<std::vector<std::string>>()) apply_override(config, a);
    }
    validate(config);
  } else {
    throw UsageError("give --config FILE (or --resume PATH to continue a checkpoint)", options.help());
  }
  TrainResult result = train(config, train_options, std::cerr);
  std::cerr << (result.interrupted ? "interrupted" : "done") << ": step " << result.step
            << ", checkpoint " << result.checkpoint << "\n";
  return 0;
}

}  // namespace ddpm
