// libFuzzer target: the command line. The input is a subcommand (its first byte picks one) and its
// arguments (the rest, split at NUL bytes), run through the real dispatcher in an empty scratch
// folder. Property: every outcome is an exit code or a ddpm::Error / usage error, never a crash, a
// raw LibTorch or standard-library exception, or a hang. Commands find no config or checkpoint in
// the scratch folder; `data` is pointed at missing sources so that it never extracts a data set.
#include <c10/util/Exception.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "ddpm/base/error.h"
#include "ddpm/cli/cli.h"

namespace {

const char* const kCommands[] = {"train", "sample", "eval",   "bench", "data",
                                 "info",  "export", "import", "help",  "nope"};

bool init() {
  const auto scratch =
      std::filesystem::temp_directory_path() / ("ddpm-fuzz-cli-" + std::to_string(getpid()));
  std::filesystem::create_directories(scratch);
  std::filesystem::current_path(scratch);
  // Help and error text would flood the fuzzer's output (libFuzzer's own goes to the C stderr).
  static std::ofstream null("/dev/null");
  std::cout.rdbuf(null.rdbuf());
  std::cerr.rdbuf(null.rdbuf());
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool ready = init();
  (void)ready;
  if (size == 0) return 0;
  const std::string command = kCommands[data[0] % (sizeof(kCommands) / sizeof(kCommands[0]))];
  std::vector<std::string> args = {"ddpm", command};
  std::string current;
  for (size_t i = 1; i < size; ++i) {
    if (data[i] == 0) {
      args.push_back(current);
      current.clear();
    } else {
      current += static_cast<char>(data[i]);
    }
  }
  if (size > 1) args.push_back(current);
  if (command == "data") {
    for (const char* a : {"--font=/nonexistent/font.ttf", "--source=/nonexistent"})
      args.push_back(a);
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  try {
    ddpm::run_cli(static_cast<int>(args.size()), argv.data());
  } catch (const ddpm::Error&) {
  }
  // Anything else escaping (c10::Error, std::exception) is what main() would print as a raw
  // message: libFuzzer reports it as a crash.
  return 0;
}
