#include "ddpm/training/run_log.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

namespace ddpm {
namespace {

// Where workers other than rank 0 write their log: nowhere.
std::ostream& null_stream() {
  static std::ostream stream(nullptr);
  return stream;
}

}  // namespace

RunLog::RunLog(std::ostream& log, bool terminal, bool writer)
    : log_(writer ? log : null_stream()), writer_(writer), progress_(log_, terminal) {}

void RunLog::open_files(const std::filesystem::path& folder, bool tensorboard) {
  if (!writer_) return;
  if (tensorboard) events_ = std::make_unique<EventWriter>(folder.string());
  metrics_.open(folder / "metrics.jsonl", std::ios::app);
}

std::ostream& RunLog::line() {
  progress_.end();
  return log_;
}

void RunLog::record(int64_t step, const nlohmann::json& row, const std::string& prefix) {
  if (!writer_) return;
  metrics_ << row.dump() << "\n" << std::flush;
  if (!events_) return;
  for (auto it = row.begin(); it != row.end(); ++it) {
    if (it.key() != "step" && it.key() != "epoch" && it.value().is_number()) {
      events_->scalar(step, prefix + it.key(), it.value().get<double>());
    }
  }
}

void RunLog::image(int64_t step, const std::string& tag, const Image& grid) {
  if (events_) events_->image(step, tag, grid.height, grid.width, grid.channels, encode_png(grid));
}

void RunLog::start(int64_t step) {
  start_step_ = step;
  run_clock_.restart();
  interval_clock_.restart();
}

void RunLog::count_step(double loss) {
  loss_sum_ += loss;
  ++interval_steps_;
}

double RunLog::log_interval(const StepReport& r) {
  const double ips =
      interval_steps_ * r.images_per_step / std::max(interval_clock_.seconds(), 1e-9);
  const double eta = run_clock_.seconds() / static_cast<double>(r.step - start_step_) *
                     static_cast<double>(r.steps - r.step);
  const double loss = loss_sum_ / std::max<int64_t>(interval_steps_, 1);
  record(r.step,
         {{"step", r.step},
          {"loss", loss},
          {"lr", r.lr},
          {"grad_norm", r.grad_norm},
          {"images_per_sec", ips},
          {"epoch", r.epoch},
          {"nonfinite_skipped", r.nonfinite_skipped}},
         "train/");
  std::ostringstream text;
  text << "step " << r.step << "/" << r.steps << " | loss " << std::setprecision(4) << loss
       << " | lr " << std::setprecision(3) << r.lr << " | " << std::fixed << std::setprecision(1)
       << ips << " img/s | ETA " << format_duration(eta);
  progress_.update(text.str());
  if (r.step >= r.steps) progress_.end();
  loss_sum_ = 0.0;
  interval_steps_ = 0;
  interval_clock_.restart();
  return loss;
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  int64_t s = static_cast<int64_t>(seconds + 0.5);
  std::ostringstream os;
  os << s / 3600 << ":" << std::setw(2) << std::setfill('0') << (s / 60) % 60 << ":" << std::setw(2)
     << std::setfill('0') << s % 60;
  return os.str();
}

}  // namespace ddpm
