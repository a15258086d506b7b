// A training run's folder: created or checked before work starts, with the config, last.pt,
// numbered snapshots (pruned to train.keep_snapshots) and the metrics log.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "ddpm/config/config.h"

namespace ddpm {

class RunFolder {
 public:
  // Creates the folder and locks it for as long as this object lives (a second RunFolder on it,
  // in any process, is refused naming the holder's pid and host; the lock dies with its process);
  // then refuses to clobber an existing run unless resuming, resolves the checkpoint to resume
  // from (`resume_from`, or <run>/last.pt) and removes temporaries of writers killed mid-write.
  RunFolder(const Config& config, bool resume, const std::string& resume_from);

  const std::filesystem::path& path() const { return dir_; }
  std::string last() const { return (dir_ / "last.pt").string(); }
  const std::string& resume_path() const { return resume_path_; }

  void write_config(const Config& config) const;
  // last.pt, and with `snapshot` also ckpt_<step>.pt, keeping the newest `keep` snapshots.
  void save(const std::vector<uint8_t>& bytes, int64_t step, bool snapshot, int64_t keep) const;
  // previews/step_<step>.png
  std::string preview_path(int64_t step) const;

 private:
  std::filesystem::path dir_;
  std::string resume_path_;
  // The lock's file descriptor, closed (and the lock released) with the folder.
  struct Lock {
    int fd = -1;
    Lock() = default;
    Lock(const Lock&) = delete;
    Lock& operator=(const Lock&) = delete;
    ~Lock();
  };
  Lock lock_;
};

}  // namespace ddpm
