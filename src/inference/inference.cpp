#include "ddpm/inference/inference.h"

namespace ddpm {

const char* weights_part(Weights weights) { return weights == Weights::raw ? "model" : "ema"; }

InferenceModel load_for_inference(const Checkpoint& checkpoint, Weights weights,
                                  torch::Device device) {
  const Config& config = checkpoint.meta().config;
  InferenceModel m{UNet(config.model), GaussianDiffusion(config.diffusion)};
  m.model->to(device);
  checkpoint.load_module(weights_part(weights), *m.model, device);
  m.model->eval();
  m.diffusion.to(device);
  return m;
}

}  // namespace ddpm
