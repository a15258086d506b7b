#include <iomanip>
#include <iostream>

#include "ddpm/commands.h"
#include "ddpm/config_loading.h"
#include "ddpm/error.h"
#include "ddpm/unet.h"

namespace ddpm {

namespace {
std::string millions(int64_t n) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(2) << static_cast<double>(n) / 1e6 << "M";
  return os.str();
}
}  // namespace

int command_info(int argc, char** argv) {
  cxxopts::Options options(argv[0], "Print a config's resolved settings and parameter count.");
  add_config_options(options);
  cxxopts::ParseResult args;
  if (!parse_options(options, argc, argv, args)) return 0;
  if (!args.count("config")) throw UsageError("give --config FILE", options.help());
  Config config = config_from_args(args);
  UNet model(config.model);
  std::cout << config_to_string(config) << "\n";
  std::cout << "parameters: " << count_parameters(*model) << " (" << millions(count_parameters(*model))
            << ")\n";
  return 0;
}

}  // namespace ddpm
