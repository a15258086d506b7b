// One optimizer step of the DDPM objective on a TrainState: micro-batch forward/backward, clipping,
// AdamW, EMA. The trainer runs it in its loop and `ddpm bench` times it, so the benchmark measures
// what training does.
#pragma once
#include <torch/types.h>

#include "ddpm/config.h"
#include "ddpm/diffusion.h"
#include "ddpm/train_state.h"

namespace ddpm {

struct AppliedStep {
  double grad_norm = 0.0;  // before clipping
  double lr = 0.0;         // the learning rate the step used
};

class TrainStep {
 public:
  // `state`'s model and shadow must already be on `device`.
  TrainStep(const Config& config, TrainState& state, const GaussianDiffusion& diffusion,
            torch::Device device);

  // Forward and backward of one micro-batch (x0 [B, C, H, W] in [-1, 1] on any device; labels [B]
  // or undefined), accumulating gradients; returns the detached loss divided by train.grad_accum.
  // `poison` multiplies the loss by NaN, so that the loss and every gradient are non-finite, as
  // after a real divergence (fault injection for the reliability tests).
  torch::Tensor accumulate(const torch::Tensor& x0, const torch::Tensor& labels,
                           bool poison = false);
  // Clips, steps AdamW at the learning rate of step `step` (0-based) and updates the EMA.
  AppliedStep apply(int64_t step);
  // Drops the accumulated gradients (a skipped step).
  void discard();

 private:
  const Config& config_;
  TrainState& state_;
  const GaussianDiffusion& diffusion_;
  torch::Device device_;
  std::vector<torch::Tensor> parameters_;
};

// Linear warm-up: lr · min(1, (step + 1)/warmup_steps).
double learning_rate_at(const TrainConfig& train, int64_t step);

}  // namespace ddpm
