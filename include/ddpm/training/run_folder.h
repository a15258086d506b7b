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
  // Refuses to clobber an existing run unless resuming, and resolves the checkpoint to resume from
  // (`resume_from`, or <run>/last.pt); creates the folder and removes temporaries of writers that
  // were killed mid-write.
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
};

}  // namespace ddpm
