// Everything a training run's checkpoint holds: the model, its EMA shadow, AdamW and the metadata
// (step, data position, counters), with its own save and restore.
#pragma once
#include <torch/optim/adamw.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ddpm/config/config.h"
#include "ddpm/io/checkpoint.h"
#include "ddpm/model/ema.h"
#include "ddpm/model/unet.h"

namespace ddpm {

struct TrainState {
  // A fresh run: the model and its shadow initialised from the current RNG, on `device`.
  TrainState(const Config& config, torch::Device device);

  // Continues a run from a checkpoint that holds training state: weights, EMA, AdamW moments, RNG,
  // step, data position and counters. The checkpoint's model must be this config's, and its classes
  // meta.class_names.
  void restore(const Checkpoint& checkpoint, torch::Device device);
  // The checkpoint bytes of the current state (model, EMA, AdamW, RNG).
  std::vector<uint8_t> serialize();

  UNet model;
  UNet shadow;  // the EMA weights, in eval mode
  Ema ema;
  torch::optim::AdamW optimizer;
  CheckpointMeta meta;
};

}  // namespace ddpm
