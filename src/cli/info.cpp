#include <iomanip>
#include <iostream>

#include "ddpm/base/error.h"
#include "ddpm/cli/commands.h"
#include "ddpm/cli/config_loading.h"
#include "ddpm/io/checkpoint.h"
#include "ddpm/model/unet.h"

namespace ddpm {

namespace {
std::string millions(int64_t n) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(2) << static_cast<double>(n) / 1e6 << "M";
  return os.str();
}
}  // namespace

int command_info(int argc, char** argv) {
  cxxopts::Options options(argv[0],
                           "Print a config's resolved settings and parameter count, or what a "
                           "checkpoint holds.");
  add_config_options(options);
  options.add_options()("ckpt", "checkpoint file", cxxopts::value<std::string>());
  cxxopts::ParseResult args;
  if (!parse_options(options, argc, argv, args)) return 0;
  if (args.count("ckpt")) {
    Checkpoint ckpt = Checkpoint::open(args["ckpt"].as<std::string>());
    const auto& m = ckpt.meta();
    UNet model(m.config.model);
    std::cout << "checkpoint: " << ckpt.path() << "\n"
              << "step: " << m.step << "\n"
              << "parameters: " << count_parameters(*model) << " ("
              << millions(count_parameters(*model)) << ")\n"
              << "ema: decay " << m.config.train.ema_decay << ", start step "
              << m.config.train.ema_start << ", every " << m.config.train.ema_every
              << ", warm-up power " << m.config.train.ema_warmup_power << ", " << m.ema_updates
              << " updates\n"
              << "data position: epoch " << m.data.epoch << ", index " << m.data.index
              << ", shuffle seed " << m.data.seed << "\n"
              << "classes: " << m.class_names.size();
    for (size_t i = 0; i < m.class_names.size(); ++i) {
      std::cout << (i ? ", " : " (") << i << "=" << m.class_names[i]
                << (i + 1 == m.class_names.size() ? ")" : "");
    }
    std::cout << "\nnon-finite steps skipped: " << m.nonfinite_skipped << "\n"
              << "saved: " << m.saved_at << " with LibTorch " << m.torch_version << "\n"
              << "config:\n"
              << config_to_string(m.config) << "\n";
    return 0;
  }
  if (!args.count("config")) throw UsageError("give --config FILE or --ckpt FILE", options.help());
  Config config = config_from_args(args);
  UNet model(config.model);
  std::cout << config_to_string(config) << "\n";
  std::cout << "parameters: " << count_parameters(*model) << " ("
            << millions(count_parameters(*model)) << ")\n";
  return 0;
}

}  // namespace ddpm
