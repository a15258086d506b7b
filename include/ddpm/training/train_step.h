// One optimizer step of the DDPM objective on a TrainState: micro-batch forward/backward, gradient
// averaging over data-parallel workers, clipping, AdamW, EMA. The trainer runs it in its loop and
// `ddpm bench` times it, so the benchmark measures what training does.
//
// Randomness: the timesteps, noise and label dropout of micro-batch m of step s are drawn for the
// whole global micro-batch from a generator seeded by (train.seed, s, m), and each worker keeps its
// shard's rows; the model's own randomness (dropout) is seeded by (train.seed, s, m, rank). A step
// is thus a function of the seed, the step and the data, whatever the worker count, and resuming
// needs no generator state.
#pragma once
#include <torch/types.h>

#include <memory>

#include "ddpm/config/config.h"
#include "ddpm/diffusion/diffusion.h"
#include "ddpm/distributed/distributed.h"
#include "ddpm/distributed/gradient_sync.h"
#include "ddpm/training/train_state.h"

namespace ddpm {

struct AppliedStep {
  double grad_norm = 0.0;  // before clipping
  double lr = 0.0;         // the learning rate the step used
};

class TrainStep {
 public:
  // `state`'s model and shadow must already be on `device`. With `comm`, gradients are averaged
  // over its workers, and this worker's shard of each global micro-batch is `comm`'s rank.
  TrainStep(const Config& config, TrainState& state, const GaussianDiffusion& diffusion,
            torch::Device device, Communicator* comm = nullptr);

  // Forward and backward of this worker's shard of micro-batch `micro` of step `step` (x0
  // [B/world, C, H, W] in [-1, 1] on any device; labels likewise or undefined), accumulating
  // gradients; returns the detached loss divided by train.grad_accum. `poison` multiplies the loss
  // by NaN, so that the loss and every gradient are non-finite, as after a real divergence (fault
  // injection for the reliability tests).
  torch::Tensor accumulate(const torch::Tensor& x0, const torch::Tensor& labels, int64_t step,
                           int64_t micro, bool poison = false);
  // After the last micro-batch: the loss summed over micro-batches and averaged over workers, with
  // the gradients; `stop_requested` becomes `stop` on every worker when any worker set it.
  AgreedStep reduce(const torch::Tensor& loss, bool stop_requested);
  // Clips, steps AdamW at the learning rate of step `step` (0-based) and updates the EMA.
  AppliedStep apply(int64_t step);
  // Drops the accumulated gradients (a skipped step).
  void discard();
  // This worker's rows of every global batch.
  const Shard& shard() const { return shard_; }

 private:
  void zero_grads();

  const Config& config_;
  TrainState& state_;
  const GaussianDiffusion& diffusion_;
  torch::Device device_;
  std::vector<torch::Tensor> parameters_;
  Shard shard_;
  std::unique_ptr<GradientSync> sync_;  // with several workers
};

// Linear warm-up, lr · min(1, (step + 1)/warmup_steps), then train.lr_schedule: constant, or with
// d = (step - warmup_steps)/(steps - warmup_steps) in [0, 1], a decay factor of 1 - d (linear) or
// (1 + cos πd)/2 (cosine, Loshchilov & Hutter 2017, without restarts). A function of the step
// alone, so a resumed run follows the same curve; raising train.steps on --resume stretches the
// decay.
double learning_rate_at(const TrainConfig& train, int64_t step);

}  // namespace ddpm
