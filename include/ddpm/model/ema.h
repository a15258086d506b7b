// Exponential moving average of a model's weights (the weights users sample from).
#pragma once
#include <torch/nn.h>

#include <cstdint>

namespace ddpm {

struct EmaOptions {
  double decay = 0.9999;
  int64_t start_step = 0;   // before this step the shadow copies the weights
  int64_t every = 1;        // update on steps divisible by this
  double warmup_power = 0;  // > 0: decay_n = min(decay, 1 − (1 + n)^−power), n = updates so far
};

class Ema {
 public:
  // `shadow` must have the same structure as the model it follows; it starts as a copy of `model`.
  Ema(torch::nn::Module& model, std::shared_ptr<torch::nn::Module> shadow, EmaOptions options);

  // Call after optimizer step number `step` (1-based count of completed steps).
  void update(torch::nn::Module& model, int64_t step);
  double decay_for_update(int64_t updates) const;

  torch::nn::Module& shadow() { return *shadow_; }
  int64_t num_updates() const { return num_updates_; }
  void set_num_updates(int64_t n) { num_updates_ = n; }

 private:
  void copy_from(torch::nn::Module& model);

  std::shared_ptr<torch::nn::Module> shadow_;
  EmaOptions options_;
  int64_t num_updates_ = 0;
};

}  // namespace ddpm
