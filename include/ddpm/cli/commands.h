// One entry point per subcommand (src/cli/<name>.cpp). Each receives argv with argv[0] = "ddpm
// <name>".
#pragma once
#include <torch/types.h>

#include <string>
#include <vector>

#include "ddpm/cli/cli_options.h"
#include "ddpm/config/config.h"

namespace ddpm {

int command_info(int argc, char** argv);
int command_train(int argc, char** argv);
int command_sample(int argc, char** argv);
int command_data(int argc, char** argv);
int command_eval(int argc, char** argv);
int command_bench(int argc, char** argv);
int command_export(int argc, char** argv);
int command_import(int argc, char** argv);
int command_invert(int argc, char** argv);

// Shared option handling: parses, prints help and exits 0 on --help; bad flags throw UsageError.
class UsageError : public std::runtime_error {
 public:
  UsageError(const std::string& message, std::string usage)
      : std::runtime_error(message), usage_(std::move(usage)) {}
  const std::string& usage() const { return usage_; }

 private:
  std::string usage_;
};

// A mutable copy of argv for the spellings cxxopts cannot parse itself.
class ArgList {
 public:
  ArgList(int argc, char** argv) : storage_(argv, argv + argc) {}
  // "--from X" / "--from=X" become "--to X" / "--to=X" (cxxopts needs long names of 2+ letters).
  void alias(const std::string& from, const std::string& to);
  // "--flag VALUE" becomes "--flag=VALUE" for an option with an implicit value.
  void join_optional_value(const std::string& flag);
  int argc() const { return static_cast<int>(storage_.size()); }
  char** argv();

 private:
  std::vector<std::string> storage_;
  std::vector<char*> pointers_;
};

// --device and --threads, shared by the commands that run a model.
void add_runtime_options(cxxopts::Options& options);
// --threads and --device into train.threads and train.device, to be validated like the config's.
void runtime_flags_to_config(const cxxopts::ParseResult& args, Config& config);
// Applies train.threads and returns train.device.
torch::Device start_runtime(const Config& config);

// --guidance-interval SIGMA_MIN,SIGMA_MAX (or "all"), shared by sample and eval.
void add_guidance_interval_option(cxxopts::Options& options);
// Writes it into sample.guidance_interval (validated later with the config, via validate_flags).
void guidance_interval_flag(const cxxopts::ParseResult& args, Config& config);

// A flag that stands for a config key.
struct FlagKey {
  const char* flag;
  const char* key;
};
// Validates `config` after flags were written into it, exactly as a config file is validated; an
// error about one of `flags`' keys names the flag ("--eta: sample.eta = -1: must be in [0, 10]").
void validate_flags(const Config& config, const std::vector<FlagKey>& flags);
inline const std::vector<FlagKey> kRuntimeFlags = {{"--threads", "train.threads"},
                                                   {"--device", "train.device"}};

// Parses argv; returns false when --help was printed (the command should return 0).
bool parse_options(cxxopts::Options& options, int argc, char** argv, cxxopts::ParseResult& result);
// The same for the commands that read a checkpoint (sample, eval): adds --device/--threads, accepts
// --n for --num, and requires --ckpt.
bool parse_checkpoint_command(cxxopts::Options& options, int argc, char** argv,
                              cxxopts::ParseResult& result);

}  // namespace ddpm
