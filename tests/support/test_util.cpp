#include "test_util.h"

#include <ATen/Parallel.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

namespace ddpm::test {

namespace {
// The test processes themselves also use one thread (see tiny_train_args).
const bool single_threaded = [] {
  at::set_num_threads(1);
  return true;
}();
}  // namespace

TempDir::TempDir() {
  std::random_device rd;
  path_ = std::filesystem::temp_directory_path() /
          ("ddpm-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void expect_one_line_error(const CommandResult& r, const std::string& message,
                           const std::string& what) {
  EXPECT_EQ(r.exit_code, 1) << what << "\n" << r.err;
  const auto start = r.err.rfind('\n', r.err.size() >= 2 ? r.err.size() - 2 : 0);
  const std::string last = r.err.substr(start == std::string::npos ? 0 : start + 1);
  EXPECT_EQ(last.rfind("ddpm: error: ", 0), 0u) << what << "\n" << r.err;
  EXPECT_NE(last.find(message), std::string::npos) << what << "\n" << r.err;
  EXPECT_EQ(r.err.find("ddpm: error: "), r.err.rfind("ddpm: error: ")) << what << "\n" << r.err;
  EXPECT_FALSE(r.err.empty() || r.err.back() != '\n') << what;
  EXPECT_EQ(r.err.find("terminate called"), std::string::npos) << what;
  EXPECT_EQ(r.err.find("Exception raised from"), std::string::npos) << what;
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::vector<double> metric_values(const std::string& run_dir, const std::string& key) {
  std::vector<double> values;
  std::istringstream rows(read_file(run_dir + "/metrics.jsonl"));
  for (std::string line; std::getline(rows, line);) {
    const auto row = nlohmann::json::parse(line);
    if (row.contains(key)) values.push_back(row[key].get<double>());
  }
  return values;
}

std::string source_path(const std::string& relative) {
  return std::string(DDPM_SOURCE_DIR) + "/" + relative;
}

CommandResult run_ddpm(const std::string& args, const std::string& cwd, const std::string& prefix) {
  TempDir capture;
  const std::string out = capture / "out", err = capture / "err";
  const std::string command = "cd '" + cwd + "' && " + prefix + " '" + DDPM_BINARY + "' " + args +
                              " >'" + out + "' 2>'" + err + "'";
  int status = std::system(command.c_str());
  CommandResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = read_file(out);
  result.err = read_file(err);
  return result;
}

}  // namespace ddpm::test

#include "ddpm/data/builtin/emoji.h"

namespace ddpm::test {

namespace {
// Debian's font, or the copy scripts/gpu/gpu_deps.sh carries to a machine without apt.
std::string emoji_font() {
  if (std::filesystem::exists(kEmojiFontPath)) return kEmojiFontPath;
  return std::string(DDPM_SOURCE_DIR) + "/.deps/NotoColorEmoji.ttf";
}
}  // namespace

void make_emoji_folder(const std::string& dir, int64_t n) { extract_emoji(emoji_font(), dir, n); }

void make_class_folders(const std::string& dir, int64_t n,
                        const std::vector<std::string>& classes) {
  namespace fs = std::filesystem;
  const fs::path all = dir + ".all";
  make_emoji_folder(all.string(), n);
  for (const auto& c : classes) fs::create_directories(fs::path(dir) / c);
  size_t i = 0;
  for (const auto& e : fs::directory_iterator(all)) {
    fs::rename(e.path(), fs::path(dir) / classes[i++ % classes.size()] / e.path().filename());
  }
  fs::remove_all(all);
}

std::string tiny_train_args(const std::string& run, const std::string& data,
                            const std::string& extra) {
  // One thread per process: ctest runs tests in parallel, and oversubscribed cores slow LibTorch's
  // thread pools down many times over.
  return "train --config configs/tiny.json --set train.threads=1 --set train.run_dir='" + run +
         "' --set data.path='" + data + "' " + extra;
}

}  // namespace ddpm::test

namespace ddpm::test {

pid_t spawn_command(const std::string& command, const std::string& log_path,
                    const std::string& cwd) {
  const std::string line = "cd '" + cwd + "' && exec " + command + " >'" + log_path + "' 2>&1";
  pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", line.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

pid_t spawn_ddpm(const std::string& args, const std::string& log_path, const std::string& cwd) {
  return spawn_command("'" + std::string(DDPM_BINARY) + "' " + args, log_path, cwd);
}

int wait_exit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace ddpm::test
