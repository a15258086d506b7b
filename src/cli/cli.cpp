#include "ddpm/cli/cli.h"

#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "ddpm/base/error.h"
#include "ddpm/base/runtime.h"
#include "ddpm/cli/commands.h"

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
      {"invert", "map images to their DDIM latents and report the reconstruction error",
       command_invert},
      {"eval", "negative log-likelihood in bits/dim (variational bound) on held-out images",
       command_eval},
      {"bench", "time training and sampling steps (images/s, GFLOP/s, peak memory)", command_bench},
      {"data", "prepare a built-in data set (emoji, fashion-mnist) as an image folder",
       command_data},
      {"export", "write a checkpoint's weights as safetensors", command_export},
      {"import", "make a weights-only checkpoint from a safetensors file", command_import},
      {"info", "print a config's resolved settings and parameter count, or a checkpoint's contents",
       command_info},
  };
  return table;
}

// cxxopts matches every argument against a std::regex, whose matcher recurses once per character:
// arguments of 16,000+ characters overflow an 8 MiB stack. No path or value needs more than this.
constexpr size_t kMaxArgumentLength = 4096;

void check_argument_lengths(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const size_t length = std::strlen(argv[i]);
    if (length <= kMaxArgumentLength) continue;
    throw Error("argument " + std::to_string(i) + " (" + std::string(argv[i], 24) + "...) is " +
                std::to_string(length) + " characters long, above the limit of " +
                std::to_string(kMaxArgumentLength) + "; shorten it");
  }
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
    if (a == from)
      a = to;
    else if (a.rfind(from + "=", 0) == 0)
      a = to + a.substr(from.size());
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

void runtime_flags_to_config(const cxxopts::ParseResult& args, Config& config) {
  config.train.threads = args["threads"].as<int64_t>();
  config.train.device = args["device"].as<std::string>();
}

void add_guidance_interval_option(cxxopts::Options& options) {
  options.add_options()(
      "guidance-interval",
      "guide only at noise levels sigma in [SIGMA_MIN, SIGMA_MAX], e.g. 0.28,5.42 (Kynkaanniemi "
      "et al. 2024), or 'all' (default: the config's sample.guidance_interval)",
      cxxopts::value<std::string>());
}

void guidance_interval_flag(const cxxopts::ParseResult& args, Config& config) {
  if (!args.count("guidance-interval")) return;
  const std::string text = args["guidance-interval"].as<std::string>();
  if (text == "all") {
    config.sample.guidance_interval.clear();
    return;
  }
  std::istringstream in(text);
  double low = 0, high = 0;
  char comma = 0;
  if (!(in >> low >> comma >> high) || comma != ',' || !(in >> std::ws).eof()) {
    throw Error("--guidance-interval " + text +
                ": expected SIGMA_MIN,SIGMA_MAX (e.g. 0.28,5.42) or all");
  }
  config.sample.guidance_interval = {low, high};
}

torch::Device start_runtime(const Config& config) {
  configure_threads(config.train.threads);
  return pick_device(config.train.device);
}

void validate_flags(const Config& config, const std::vector<FlagKey>& flags) {
  try {
    validate(config);
  } catch (const Error& e) {
    const std::string message = e.what();
    for (const auto& f : flags) {
      const std::string key = f.key;
      if (message.rfind(key + " ", 0) == 0 || message.rfind(key + ":", 0) == 0) {
        throw Error(std::string(f.flag) + ": " + message);
      }
    }
    throw;
  }
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
  check_argument_lengths(argc, argv);
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
