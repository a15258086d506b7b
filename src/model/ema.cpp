#include "ddpm/model/ema.h"

#include <cmath>

namespace ddpm {

Ema::Ema(torch::nn::Module& model, std::shared_ptr<torch::nn::Module> shadow, EmaOptions options)
    : shadow_(std::move(shadow)), options_(options) {
  for (auto& p : shadow_->parameters()) p.set_requires_grad(false);
  copy_from(model);
}

void Ema::copy_from(torch::nn::Module& model) {
  torch::NoGradGuard no_grad;
  auto src = model.parameters();
  auto dst = shadow_->parameters();
  for (size_t i = 0; i < src.size(); ++i) dst[i].copy_(src[i]);
  auto src_b = model.buffers();
  auto dst_b = shadow_->buffers();
  for (size_t i = 0; i < src_b.size(); ++i) dst_b[i].copy_(src_b[i]);
}

double Ema::decay_for_update(int64_t updates) const {
  if (options_.warmup_power <= 0) return options_.decay;
  return std::min(options_.decay,
                  1.0 - std::pow(1.0 + static_cast<double>(updates), -options_.warmup_power));
}

void Ema::update(torch::nn::Module& model, int64_t step) {
  if (step < options_.start_step) {
    copy_from(model);
    return;
  }
  if (step % options_.every != 0) return;
  const double decay = decay_for_update(num_updates_);
  ++num_updates_;
  torch::NoGradGuard no_grad;
  auto src = model.parameters();
  auto dst = shadow_->parameters();
  // shadow ← decay · shadow + (1 − decay) · θ
  for (size_t i = 0; i < src.size(); ++i) dst[i].mul_(decay).add_(src[i].detach(), 1.0 - decay);
  auto src_b = model.buffers();
  auto dst_b = shadow_->buffers();
  for (size_t i = 0; i < src_b.size(); ++i) dst_b[i].copy_(src_b[i]);
}

}  // namespace ddpm
