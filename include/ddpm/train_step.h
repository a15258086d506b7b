// One optimizer step of the DDPM objective: micro-batch forward/backward, clipping, AdamW, EMA.
// The trainer runs it in its loop and `ddpm bench` times it, so the benchmark measures what training does.
#pragma once
#include <torch/optim/adamw.h>
#include <torch/types.h>

#include "ddpm/config.h"
#include "ddpm/diffusion.h"
#include "ddpm/ema.h"
#include "ddpm/unet.h"

namespace ddpm {

class TrainStep {
 public:
  // `model` trains, `shadow` holds its EMA; both must already be on `device`.
  TrainStep(const Config& config, UNet model, UNet shadow, const GaussianDiffusion& diffusion,
            torch::Device device);

  // Forward and backward of one micro-batch (x0 [B, C, H, W] in [-1, 1] on any device; labels [B] or
  // undefined), accumulating gradients; returns the detached loss divided by train.grad_accum.
  torch::Tensor accumulate(const torch::Tensor& x0, const torch::Tensor& labels);
  // Clips, steps AdamW at the learning rate of step `step` (0-based) and updates the EMA;
  // returns the gradient norm before clipping.
  double apply(int64_t step);
  // Drops the accumulated gradients (a skipped step).
  void discard();
  // Fault injection for the reliability tests: the next accumulate() multiplies its loss by NaN, so
  // the loss and every gradient are non-finite, as after a real divergence.
  void poison_next() { poison_next_ = true; }

  torch::optim::AdamW& optimizer() { return optimizer_; }
  Ema& ema() { return ema_; }

 private:
  const Config& config_;
  UNet model_;
  const GaussianDiffusion& diffusion_;
  torch::Device device_;
  Ema ema_;
  torch::optim::AdamW optimizer_;
  std::vector<torch::Tensor> parameters_;
  bool poison_next_ = false;
};

// Linear warm-up: lr · min(1, (step + 1)/warmup_steps).
double learning_rate_at(const TrainConfig& train, int64_t step);

}  // namespace ddpm
