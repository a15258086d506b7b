#include "ddpm/cli/config_loading.h"

namespace ddpm {

void add_config_options(cxxopts::Options& options) {
  options.add_options()("c,config", "JSON config file", cxxopts::value<std::string>())(
      "set", "override a config value: section.key=value (repeatable)",
      cxxopts::value<std::vector<std::string>>());
}

Config config_from_args(const cxxopts::ParseResult& args) {
  return with_overrides(load_config(args["config"].as<std::string>()), args);
}

Config with_overrides(Config config, const cxxopts::ParseResult& args) {
  if (args.count("set")) {
    for (const auto& assignment : args["set"].as<std::vector<std::string>>()) {
      apply_override(config, assignment);
    }
  }
  validate(config);
  return config;
}

}  // namespace ddpm
