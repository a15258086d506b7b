// One entry point per subcommand (src/cli/<name>.cpp). Each receives argv with argv[0] = "ddpm <name>".
#pragma once
#include <cxxopts.hpp>
#include <string>

namespace ddpm {

int command_info(int argc, char** argv);

// Shared option handling: parses, prints help and exits 0 on --help; bad flags throw UsageError.
class UsageError : public std::runtime_error {
 public:
  UsageError(const std::string& message, std::string usage)
      : std::runtime_error(message), usage_(std::move(usage)) {}
  const std::string& usage() const { return usage_; }

 private:
  std::string usage_;
};

// Parses argv; returns false when --help was printed (the command should return 0).
bool parse_options(cxxopts::Options& options, int argc, char** argv, cxxopts::ParseResult& result);

}  // namespace ddpm
