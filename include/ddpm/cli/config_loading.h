// The --config / --set options shared by the commands that read a config file.
#pragma once
#include "ddpm/cli/cli_options.h"
#include "ddpm/config/config.h"

namespace ddpm {

void add_config_options(cxxopts::Options& options);
// Loads --config, applies every --set in order, validates.
Config config_from_args(const cxxopts::ParseResult& args);
// Applies every --set to `config` in order, validates.
Config with_overrides(Config config, const cxxopts::ParseResult& args);

}  // namespace ddpm
