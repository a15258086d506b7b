#include "ddpm/training/run_folder.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "ddpm/base/atomic_file.h"
#include "ddpm/base/error.h"

namespace ddpm {
namespace fs = std::filesystem;

namespace {

std::string numbered(const char* prefix, int64_t step, const char* suffix) {
  std::ostringstream os;
  os << prefix << std::setw(7) << std::setfill('0') << step << suffix;
  return os.str();
}

// Temporary files of writers that were killed mid-write (".last.pt.tmp.<pid>"): never valid data.
void remove_stale_temporaries(const fs::path& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const auto name = e.path().filename().string();
    if (name.size() > 1 && name[0] == '.' && name.find(".tmp.") != std::string::npos) {
      fs::remove(e.path(), ec);
    }
  }
}

void prune_snapshots(const fs::path& dir, int64_t keep) {
  std::vector<fs::path> snapshots;
  for (const auto& e : fs::directory_iterator(dir)) {
    const auto name = e.path().filename().string();
    if (name.rfind("ckpt_", 0) == 0 && e.path().extension() == ".pt") snapshots.push_back(e.path());
  }
  std::sort(snapshots.begin(), snapshots.end());
  for (size_t i = 0; i + keep < snapshots.size(); ++i) fs::remove(snapshots[i]);
}

std::string this_host() {
  char host[HOST_NAME_MAX + 1] = {};
  if (gethostname(host, sizeof host - 1) != 0) return "this machine";
  return host;
}

// An exclusive OS lock on <run>/.lock, which dies with its holder (a killed run never blocks the
// next); the holder's pid and host are written into the file for the message a second run gets.
int lock_run_folder(const fs::path& dir) {
  const fs::path path = dir / ".lock";
  const int fd = open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  if (fd < 0) throw Error("run folder " + dir.string() + ": cannot create its lock file .lock");
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    std::string holder;
    std::getline(std::ifstream(path), holder);
    close(fd);
    throw Error("run folder " + dir.string() + " is in use by another ddpm train (" +
                (holder.empty() ? std::string("a process starting up") : holder) +
                "); wait for it to finish, or choose another folder with --set train.run_dir=PATH");
  }
  const std::string holder = "pid " + std::to_string(getpid()) + " on " + this_host() + "\n";
  // Without the note the lock still holds; a second run's message then names no process.
  const bool noted = ftruncate(fd, 0) == 0 && pwrite(fd, holder.data(), holder.size(), 0) > 0;
  (void)noted;
  return fd;
}

}  // namespace

RunFolder::Lock::~Lock() {
  if (fd >= 0) close(fd);
}

RunFolder::RunFolder(const Config& config, bool resume, const std::string& resume_from)
    : dir_(run_dir(config)) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec || access(dir_.c_str(), W_OK) != 0) {
    throw Error("run folder " + dir_.string() + ": cannot create or write (" +
                (ec ? ec.message() : std::string("permission denied")) + ")");
  }
  // Locked before the checks below, so that "does a run exist here" and starting one are atomic.
  lock_.fd = lock_run_folder(dir_);
  if (resume) {
    resume_path_ = resume_from.empty() ? last() : resume_from;
    if (!fs::exists(resume_path_, ec)) {
      throw Error(resume_path_ +
                  ": no checkpoint to resume from; start a new run without --resume");
    }
  } else if (fs::exists(last(), ec) || fs::exists(dir_ / "config.json", ec)) {
    throw Error("run folder " + dir_.string() +
                " already holds a run; continue it with --resume, "
                "or choose another folder with --set train.run_dir=PATH");
  }
  remove_stale_temporaries(dir_);
}

void RunFolder::write_config(const Config& config) const {
  const std::string text = config_to_string(config) + "\n";
  write_file_atomically((dir_ / "config.json").string(), text.data(), text.size());
}

void RunFolder::save(const std::vector<uint8_t>& bytes, int64_t step, bool snapshot,
                     int64_t keep) const {
  try {
    write_file_atomically(last(), bytes.data(), bytes.size());
    if (snapshot) {
      write_file_atomically((dir_ / numbered("ckpt_", step, ".pt")).string(), bytes.data(),
                            bytes.size());
      prune_snapshots(dir_, keep);
    }
  } catch (const Error& e) {
    throw Error(std::string(e.what()) + "; saving step " + std::to_string(step) +
                " failed: free disk space, then continue with --resume");
  }
}

std::string RunFolder::preview_path(int64_t step) const {
  fs::create_directories(dir_ / "previews");
  return (dir_ / "previews" / numbered("step_", step, ".png")).string();
}

}  // namespace ddpm
