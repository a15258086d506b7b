#include "ddpm/cli.h"

#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "ddpm/commands.h"
#include "ddpm/error.h"
#include "ddpm/runtime.h"

namespace ddpm {
namespace {

struct Command {
  const char* name;
  const char* summary;
  int (*run)(int, char**);
};

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"train", "train a model from a JSON config, or resume a run", command_train},
      {"sample", "draw images from a checkpoint's EMA weights into a PNG grid", command_sample},
      {"eval", "negative log-likelihood in bits/dim (variational bound) on held-out images",
       command_eval},
      {"bench", "time training and sampling steps (images/s, GFLOP/s, peak memory)",
       command_bench},
      {"data", "prepare the built-in emoji data set as an image folder", command_data},
      {"info", "print a config's resolved settings and parameter count, or a checkpoint's contents",
       command_info},
  };
  return table;
}

void print_usage(std::ostream& out) {
  out << "ddpm " << DDPM_VERSION << " - train and sample denoising diffusion models (DDPM)\n\n"
      << "usage: ddpm <command> [options]\n\ncommands:\n";
  for (const auto& c : commands()) {
    out << "  " << c.name << std::string(10 - std::strlen(c.name), ' ') << c.summary << "\n";
  }
  out << "\nRun 'ddpm <command> --help' for the options of one command.\n";
}

}  // namespace

void ArgList::alias(const std::string& from, const std::string& to) {
  for (size_t i = 1; i < storage_.size(); ++i) {
    auto& a = storage_[i];
    if (a == from) a = to;
    else if (a.rfind(from + "=", 0) == 0) a = to + a.substr(from.size());
  }
}

void ArgList::join_optional_value(const std::string& flag) {
  for (size_t i = 1; i + 1 < storage_.size(); ++i) {
    if (storage_[i] == flag && !storage_[i + 1].empty() && storage_[i + 1][0] != '-') {
      storage_[i] += "=" + storage_[i + 1];
      storage_.erase(storage_.begin() + static_cast<std::ptrdiff_t>(i) + 1);
    }
  }
}

char** ArgList::argv() {
  pointers_.clear();
  for (auto& s : storage_) pointers_.push_back(s.data());
  pointers_.push_back(nullptr);
  return pointers_.data();
}

void add_runtime_options(cxxopts::Options& options) {
  options.add_options()("device", "auto, cpu, cuda or cuda:N",
                        cxxopts::value<std::string>()->default_value("auto"))(
      "threads", "CPU threads (0 = all cores)", cxxopts::value<int64_t>()->default_value("0"));
}

torch::Device runtime_from_args(const cxxopts::ParseResult& args) {
  configure_threads(args["threads"].as<int64_t>());
  return pick_device(args["device"].as<std::string>());
}

bool parse_options(cxxopts::Options& options, int argc, char** argv, cxxopts::ParseResult& result) {
  options.add_options("help")("h,help", "show this help");
  try {
    result = options.parse(argc, argv);
  } catch (const cxxopts::exceptions::exception& e) {
    throw UsageError(e.what(), options.help());
  }
  if (result.count("help")) {
    std::cout << options.help();
    return false;
  }
  if (!result.unmatched().empty()) {
    throw UsageError("unexpected argument '" + result.unmatched().front() + "'", options.help());
  }
  return true;
}

bool parse_checkpoint_command(cxxopts::Options& options, int argc, char** argv,
                              cxxopts::ParseResult& result) {
  add_runtime_options(options);
  ArgList arg_list(argc, argv);
  arg_list.alias("--n", "--num");
  if (!parse_options(options, arg_list.argc(), arg_list.argv(), result)) return false;
  if (!result.count("ckpt")) throw UsageError("give --ckpt FILE", options.help());
  return true;
}

int run_cli(int argc, char** argv) {
  if (argc < 2) {
    print_usage(std::cerr);
    return 2;
  }
  std::string name = argv[1];
  if (name == "-h" || name == "--help" || name == "help") {
    print_usage(std::cout);
    return 0;
  }
  if (name == "--version") {
    std::cout << "ddpm " << DDPM_VERSION << "\n";
    return 0;
  }
  for (const auto& c : commands()) {
    if (name != c.name) continue;
    std::string program = std::string("ddpm ") + c.name;
    std::vector<char*> args(argv + 1, argv + argc);
    args[0] = program.data();
    try {
      return c.run(static_cast<int>(args.size()), args.data());
    } catch (const UsageError& e) {
      std::cerr << e.usage() << "\nddpm " << c.name << ": " << e.what() << "\n";
      return 2;
    }
  }
  print_usage(std::cerr);
  std::cerr << "\nddpm: unknown command '" << name << "'\n";
  return 2;
}

}  // namespace ddpm
