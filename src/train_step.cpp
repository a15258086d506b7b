#include "ddpm/train_step.h"

#include <limits>

#include "ddpm/compat.h"

namespace ddpm {

double learning_rate_at(const TrainConfig& train, int64_t step) {
  if (train.warmup_steps <= 0) return train.lr;
  return train.lr * std::min(1.0, static_cast<double>(step + 1) / train.warmup_steps);
}

TrainStep::TrainStep(const Config& config, TrainState& state, const GaussianDiffusion& diffusion,
                     torch::Device device)
    : config_(config),
      state_(state),
      diffusion_(diffusion),
      device_(device),
      parameters_(state.model->parameters()) {}

torch::Tensor TrainStep::accumulate(const torch::Tensor& x0_in, const torch::Tensor& labels_in,
                                    bool poison) {
  const auto& tc = config_.train;
  auto& model = state_.model;
  // Page-locked host memory lets the copy to a GPU overlap with compute.
  auto x0 = (device_.is_cuda() && x0_in.is_cpu() ? x0_in.pin_memory() : x0_in)
                .to(device_, /*non_blocking=*/true);  // [B, C, H, W] in [-1, 1]
  const int64_t B = x0.size(0);
  torch::Tensor labels;
  if (config_.model.num_classes > 0) {
    labels = labels_in.to(device_, /*non_blocking=*/true);
    // Label dropout for classifier-free guidance (Ho & Salimans 2022).
    auto drop = torch::rand({B}, torch::TensorOptions().device(device_)) < tc.p_uncond;
    labels = torch::where(drop, torch::full_like(labels, model->null_class()), labels);
  }
  auto t = diffusion_.sample_timesteps(B, device_);
  auto noise = torch::randn_like(x0);
  torch::Tensor out;
  {
    compat::AutocastScope autocast(device_, tc.precision == Precision::bf16);
    out = model->forward(diffusion_.q_sample(x0, t, noise), t, labels);
  }
  out = out.to(torch::kFloat32);
  auto loss = diffusion_.loss_per_example(out, x0, noise, t).mean() / tc.grad_accum;
  if (poison) loss = loss * std::numeric_limits<double>::quiet_NaN();
  loss.backward();
  return loss.detach();
}

AppliedStep TrainStep::apply(int64_t step) {
  const auto& tc = config_.train;
  AppliedStep applied;
  applied.lr = learning_rate_at(tc, step);
  for (auto& group : state_.optimizer.param_groups()) {
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(applied.lr);
  }
  applied.grad_norm = torch::nn::utils::clip_grad_norm_(
      parameters_, tc.grad_clip > 0 ? tc.grad_clip : std::numeric_limits<double>::max());
  state_.optimizer.step();
  state_.optimizer.zero_grad();
  state_.ema.update(*state_.model, step + 1);
  return applied;
}

void TrainStep::discard() { state_.optimizer.zero_grad(); }

}  // namespace ddpm
