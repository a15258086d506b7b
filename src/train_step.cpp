#include "ddpm/train_step.h"

#include <limits>

#include "ddpm/compat.h"

namespace ddpm {

double learning_rate_at(const TrainConfig& train, int64_t step) {
  if (train.warmup_steps <= 0) return train.lr;
  return train.lr * std::min(1.0, static_cast<double>(step + 1) / train.warmup_steps);
}

TrainStep::TrainStep(const Config& config, UNet model, UNet shadow,
                     const GaussianDiffusion& diffusion, torch::Device device)
    : config_(config),
      model_(model),
      diffusion_(diffusion),
      device_(device),
      ema_(*model, shadow.ptr(),
           EmaOptions{config.train.ema_decay, config.train.ema_start, config.train.ema_every,
                      config.train.ema_warmup_power}),
      optimizer_(model->parameters(), torch::optim::AdamWOptions(config.train.lr)
                                          .betas({config.train.adam_beta1, config.train.adam_beta2})
                                          .eps(config.train.adam_eps)
                                          .weight_decay(config.train.weight_decay)),
      parameters_(model->parameters()) {}

torch::Tensor TrainStep::accumulate(const torch::Tensor& x0_in, const torch::Tensor& labels_in) {
  const auto& tc = config_.train;
  // Page-locked host memory lets the copy to a GPU overlap with compute.
  auto x0 = (device_.is_cuda() && x0_in.is_cpu() ? x0_in.pin_memory() : x0_in)
                .to(device_, /*non_blocking=*/true);  // [B, C, H, W] in [-1, 1]
  const int64_t B = x0.size(0);
  torch::Tensor labels;
  if (config_.model.num_classes > 0) {
    labels = labels_in.to(device_, /*non_blocking=*/true);
    // Label dropout for classifier-free guidance (Ho & Salimans 2022).
    auto drop = torch::rand({B}, torch::TensorOptions().device(device_)) < tc.p_uncond;
    labels = torch::where(drop, torch::full_like(labels, model_->null_class()), labels);
  }
  auto t = diffusion_.sample_timesteps(B, device_);
  auto noise = torch::randn_like(x0);
  torch::Tensor out;
  {
    compat::AutocastScope autocast(device_, tc.precision == Precision::bf16);
    out = model_->forward(diffusion_.q_sample(x0, t, noise), t, labels);
  }
  out = out.to(torch::kFloat32);
  auto loss = diffusion_.loss_per_example(out, x0, noise, t).mean() / tc.grad_accum;
  if (poison_next_) {
    loss = loss * std::numeric_limits<double>::quiet_NaN();
    poison_next_ = false;
  }
  loss.backward();
  return loss.detach();
}

double TrainStep::apply(int64_t step) {
  const auto& tc = config_.train;
  const double lr = learning_rate_at(tc, step);
  for (auto& group : optimizer_.param_groups()) {
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
  }
  const double norm = torch::nn::utils::clip_grad_norm_(
      parameters_, tc.grad_clip > 0 ? tc.grad_clip : std::numeric_limits<double>::max());
  optimizer_.step();
  optimizer_.zero_grad();
  ema_.update(*model_, step + 1);
  return norm;
}

void TrainStep::discard() { optimizer_.zero_grad(); }

}  // namespace ddpm
