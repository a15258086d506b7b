#include "ddpm/training/train_state.h"

#include "ddpm/base/error.h"

namespace ddpm {
namespace {

UNet on_device(UNet net, torch::Device device) {
  net->to(device);
  return net;
}

torch::optim::AdamWOptions adamw_options(const TrainConfig& t) {
  return torch::optim::AdamWOptions(t.lr)
      .betas({t.adam_beta1, t.adam_beta2})
      .eps(t.adam_eps)
      .weight_decay(t.weight_decay);
}

EmaOptions ema_options(const TrainConfig& t) {
  return EmaOptions{t.ema_decay, t.ema_start, t.ema_every, t.ema_warmup_power};
}

}  // namespace

TrainState::TrainState(const Config& config, torch::Device device)
    : model(on_device(UNet(config.model), device)),
      shadow(on_device(UNet(config.model), device)),
      ema(*model, shadow.ptr(), ema_options(config.train)),
      optimizer(model->parameters(), adamw_options(config.train)) {
  shadow->eval();
  meta.config = config;
  meta.data = DataPosition{0, 0, config.train.seed};
}

void TrainState::restore(const Checkpoint& ckpt, torch::Device device) {
  const std::string& path = ckpt.path();
  check_same_model(ckpt.meta().config, meta.config, path);
  if (!ckpt.has("optimizer") || !ckpt.has("ema")) {
    throw Error(path + ": checkpoint has no training state (weights only); cannot resume");
  }
  if (ckpt.meta().class_names != meta.class_names) {
    throw Error(path + ": the data folder's classes differ from the checkpoint's");
  }
  ckpt.load_module("model", *model, device);
  ckpt.load_module("ema", *shadow, device);
  ckpt.load_optimizer(optimizer, device);
  ckpt.restore_rng();
  meta.step = ckpt.meta().step;
  meta.data = ckpt.meta().data;
  meta.nonfinite_skipped = ckpt.meta().nonfinite_skipped;
  ema.set_num_updates(ckpt.meta().ema_updates);
}

std::vector<uint8_t> TrainState::serialize() {
  meta.ema_updates = ema.num_updates();
  return serialize_checkpoint(meta, {model.get(), shadow.get(), &optimizer, true});
}

}  // namespace ddpm
