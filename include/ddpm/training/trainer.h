// The training loop: data → noise → loss → AdamW with warm-up and clipping → EMA, with logging,
// periodic atomic checkpoints, preview grids, exact resume and clean stops on SIGINT/SIGTERM.
#pragma once
#include <iosfwd>
#include <set>
#include <string>

#include "ddpm/config/config.h"
#include "ddpm/distributed/distributed.h"
#include "ddpm/inference/inference.h"

namespace ddpm {

struct TrainOptions {
  bool resume = false;
  std::string resume_from;  // empty: <run>/last.pt
  // Fine-tuning: a new run whose model and EMA start from these weights (training/init_weights.h).
  std::string init_from;
  Weights init_weights = Weights::ema;
  bool terminal = false;  // `log` is a terminal: the progress line rewrites itself in place
  // Fault injection for the reliability tests: each listed step's loss is made NaN once per
  // listing.
  std::multiset<int64_t> nonfinite_steps;
  // This worker's place in a data-parallel job (a single process by default). Rank 0 alone writes
  // the run folder and the log; the others write nothing.
  WorldInfo world;
};

struct TrainResult {
  int64_t step = 0;          // completed optimizer steps
  bool interrupted = false;  // stopped by a signal (checkpoint saved)
  double last_loss = 0.0;    // mean loss over the last logging interval
  std::string checkpoint;    // path of last.pt
};

TrainResult train(const Config& config, const TrainOptions& options, std::ostream& log);

}  // namespace ddpm
