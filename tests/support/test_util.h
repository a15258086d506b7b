// Helpers shared by the tests: temporary folders and running the real ddpm binary.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "ddpm/base/error.h"

namespace ddpm::test {

// The message of the ddpm::Error a callable throws ("" if none).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// A fresh folder under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs `ddpm <args>` (args already shell-quoted as needed) from `cwd` (default: the source dir),
// after the shell commands in `prefix` (e.g. "ulimit -f 100; export X=1;").
CommandResult run_ddpm(const std::string& args, const std::string& cwd = DDPM_SOURCE_DIR,
                       const std::string& prefix = "");

// One clear line: stderr ends with the only "ddpm: error: ..." line, which contains `message`
// (progress and warnings printed before the failure may precede it); exit code 1; no abort or
// trace.
void expect_one_line_error(const CommandResult& r, const std::string& message,
                           const std::string& what);

void write_file(const std::string& path, const std::string& content);
std::string read_file(const std::string& path);
std::string source_path(const std::string& relative);
// The values of `key`, in order, from the rows of a run's metrics.jsonl that have it.
std::vector<double> metric_values(const std::string& run_dir, const std::string& key);

}  // namespace ddpm::test

namespace ddpm::test {

// Extracts the first `n` emoji glyphs into `dir` (the built-in data set, small).
void make_emoji_folder(const std::string& dir, int64_t n);
// The same glyphs dealt in turn into one subfolder of `dir` per class: a class-conditional data
// set.
void make_class_folders(const std::string& dir, int64_t n, const std::vector<std::string>& classes);

// `ddpm train` flags that point configs/tiny.json at `run` and `data`, with extra --set overrides.
std::string tiny_train_args(const std::string& run, const std::string& data,
                            const std::string& extra = "");

}  // namespace ddpm::test

#include <sys/types.h>

namespace ddpm::test {

// Starts `exec <command>` (a shell command line) in the background, stdout+stderr to log_path;
// returns the pid of the command itself.
pid_t spawn_command(const std::string& command, const std::string& log_path,
                    const std::string& cwd = DDPM_SOURCE_DIR);
// Starts `ddpm <args>` in the background (stdout+stderr to log_path); returns its pid.
pid_t spawn_ddpm(const std::string& args, const std::string& log_path,
                 const std::string& cwd = DDPM_SOURCE_DIR);
// Waits for the process; returns its exit code, or 128 + signal.
int wait_exit(pid_t pid);

}  // namespace ddpm::test
