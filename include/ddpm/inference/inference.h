// The one way to load a model for inference: a checkpoint's network with its EMA or raw weights and
// its diffusion, on a device, in eval mode.
#pragma once
#include <torch/types.h>

#include <string>

#include "ddpm/diffusion/diffusion.h"
#include "ddpm/io/checkpoint.h"
#include "ddpm/model/unet.h"

namespace ddpm {

enum class Weights { ema, raw };

// The checkpoint part that holds them: "ema" or "model".
const char* weights_part(Weights weights);

struct InferenceModel {
  UNet model;
  GaussianDiffusion diffusion;
};

InferenceModel load_for_inference(const Checkpoint& checkpoint, Weights weights,
                                  torch::Device device);

}  // namespace ddpm
