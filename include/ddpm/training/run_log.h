// A training run's log: the progress line (step, loss, learning rate, images/s, ETA),
// metrics.jsonl and TensorBoard. Only rank 0 logs; the other workers' RunLog writes nowhere.
#pragma once
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

#include "ddpm/base/progress.h"
#include "ddpm/base/stopwatch.h"
#include "ddpm/data/image_io.h"
#include "ddpm/io/tensorboard.h"

namespace ddpm {

// Where a training step stands, for the progress line and its metrics row.
struct StepReport {
  int64_t step = 0;
  int64_t steps = 0;            // train.steps
  int64_t images_per_step = 0;  // batch_size × grad_accum
  double lr = 0.0;
  double grad_norm = 0.0;
  int64_t epoch = 0;
  int64_t nonfinite_skipped = 0;
};

class RunLog {
 public:
  // `log` is where lines go on rank 0 (`writer`); `terminal`: the progress line rewrites itself.
  RunLog(std::ostream& log, bool terminal, bool writer);
  // Opens metrics.jsonl (appending: a resumed run continues it) and, with `tensorboard`, a new
  // event file in the run folder.
  void open_files(const std::filesystem::path& folder, bool tensorboard);

  // The log stream, for lines of their own: any open progress line is ended first.
  std::ostream& line();
  // A row of metrics.jsonl, and its numbers (step and epoch aside) as TensorBoard scalars under
  // `prefix`.
  void record(int64_t step, const nlohmann::json& row, const std::string& prefix);
  // A PNG grid as a TensorBoard image.
  void image(int64_t step, const std::string& tag, const Image& grid);

  // Starts the clock of the run at `step` (the ETA counts from here).
  void start(int64_t step);
  // One optimizer step's loss, into the interval since the last log line.
  void count_step(double loss);
  // The interval's metrics row and the progress line; returns its mean loss and starts the next.
  double log_interval(const StepReport& report);

 private:
  std::ostream& log_;
  bool writer_;
  ProgressLine progress_;
  std::ofstream metrics_;
  std::unique_ptr<EventWriter> events_;
  Stopwatch run_clock_, interval_clock_;
  int64_t start_step_ = 0;
  double loss_sum_ = 0.0;
  int64_t interval_steps_ = 0;
};

// H:MM:SS, or "?" for a duration that is not one.
std::string format_duration(double seconds);

}  // namespace ddpm
