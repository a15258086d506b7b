// Helpers shared by the tests: temporary folders and running the real ddpm binary.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace ddpm::test {

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

// Runs `ddpm <args>` (args already shell-quoted as needed) from `cwd` (default: the source dir).
CommandResult run_ddpm(const std::string& args, const std::string& cwd = DDPM_SOURCE_DIR);

void write_file(const std::string& path, const std::string& content);
std::string read_file(const std::string& path);
std::string source_path(const std::string& relative);

}  // namespace ddpm::test
