#include "ddpm/training/train_step.h"

#include <ATen/Context.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>

#include "ddpm/base/compat.h"

namespace ddpm {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// A seed for stream `stream` of micro-batch `micro` of step `step`.
uint64_t step_seed(int64_t seed, int64_t step, int64_t micro, int64_t stream) {
  uint64_t h = splitmix64(static_cast<uint64_t>(seed));
  h = splitmix64(h ^ static_cast<uint64_t>(step));
  h = splitmix64(h ^ static_cast<uint64_t>(micro));
  return splitmix64(h ^ static_cast<uint64_t>(stream)) >> 1;  // positive as int64 too
}

// Seeds `device`'s default generator (the one the diffusion draws and the model's dropout use).
void reseed(torch::Device device, uint64_t seed) {
  auto generator = at::globalContext().defaultGenerator(device);
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_current_seed(seed);
}

struct Draws {
  torch::Tensor t, noise, dropped;
};

// The random draws of one micro-batch of `global` rows, cut to `shard`'s rows.
Draws draw_shard(const GaussianDiffusion& diffusion, const torch::Tensor& x0, int64_t global,
                 const Shard& shard) {
  auto sizes = x0.sizes().vec();
  sizes[0] = global;
  const auto on = torch::TensorOptions().device(x0.device());
  auto t = diffusion.sample_timesteps(global, x0.device());
  auto noise = torch::randn(sizes, on.dtype(x0.scalar_type()));
  auto dropped = torch::rand({global}, on);
  const int64_t begin = shard.begin(global), n = shard.size(global);
  return {t.narrow(0, begin, n), noise.narrow(0, begin, n), dropped.narrow(0, begin, n)};
}

}  // namespace

double learning_rate_at(const TrainConfig& train, int64_t step) {
  const double warm =
      train.warmup_steps <= 0
          ? 1.0
          : std::min(1.0, static_cast<double>(step + 1) / static_cast<double>(train.warmup_steps));
  const int64_t span = train.steps - train.warmup_steps;
  if (train.lr_schedule == LrSchedule::constant || span <= 0) return train.lr * warm;
  const double done = std::clamp(
      static_cast<double>(step - train.warmup_steps) / static_cast<double>(span), 0.0, 1.0);
  const double pi = std::acos(-1.0);
  const double decay =
      train.lr_schedule == LrSchedule::linear ? 1.0 - done : 0.5 * (1.0 + std::cos(pi * done));
  return train.lr * warm * decay;
}

TrainStep::TrainStep(const Config& config, TrainState& state, const GaussianDiffusion& diffusion,
                     torch::Device device, Communicator* comm)
    : config_(config),
      state_(state),
      diffusion_(diffusion),
      device_(device),
      parameters_(state.model->parameters()) {
  if (comm) {
    shard_ = Shard{comm->rank(), comm->world()};
    sync_ = std::make_unique<GradientSync>(parameters_, *comm);
  }
}

torch::Tensor TrainStep::accumulate(const torch::Tensor& x0_in, const torch::Tensor& labels_in,
                                    int64_t step, int64_t micro, bool poison) {
  const auto& tc = config_.train;
  auto& model = state_.model;
  // Page-locked host memory lets the copy to a GPU overlap with compute.
  auto x0 = (device_.is_cuda() && x0_in.is_cpu() ? x0_in.pin_memory() : x0_in)
                .to(device_, /*non_blocking=*/true);  // [B, C, H, W] in [-1, 1]
  reseed(device_, step_seed(tc.seed, step, micro, 0));
  const Draws draws = draw_shard(diffusion_, x0, tc.batch_size, shard_);
  reseed(device_, step_seed(tc.seed, step, micro, 1 + shard_.rank));
  torch::Tensor labels;
  if (config_.model.num_classes > 0) {
    labels = labels_in.to(device_, /*non_blocking=*/true);
    // Label dropout for classifier-free guidance (Ho & Salimans 2022).
    labels = torch::where(draws.dropped < tc.p_uncond,
                          torch::full_like(labels, model->null_class()), labels);
  }
  const auto& t = draws.t;
  const auto& noise = draws.noise;
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
  zero_grads();
  state_.ema.update(*state_.model, step + 1);
  return applied;
}

AgreedStep TrainStep::reduce(const torch::Tensor& loss, bool stop_requested) {
  if (sync_) return sync_->average(loss, stop_requested);
  return {loss.item<double>(), stop_requested};
}

void TrainStep::discard() { zero_grads(); }

void TrainStep::zero_grads() {
  if (sync_) {
    sync_->zero();
  } else {
    state_.optimizer.zero_grad();
  }
}

}  // namespace ddpm
