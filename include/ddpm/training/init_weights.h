// Fine-tuning: a new run's model and EMA start from the weights of another run's checkpoint (EMA or
// raw weights) or of a safetensors export, instead of a random initialisation. Everything else is
// the new run's: step 0, a fresh optimizer, the new config's data and schedule.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "ddpm/inference/inference.h"
#include "ddpm/model/unet.h"

namespace ddpm {

struct InitWeights {
  std::string path;
  std::map<std::string, torch::Tensor> tensors;  // by module path, on the CPU, all finite
  std::vector<std::string> class_names;          // empty: none known (or an unconditional model)
  std::string description;  // "runs/a/last.pt (EMA weights of step 1500)", for the log
};

// Reads `path`: a checkpoint (the part `weights` names, checked against the model of the config
// it embeds) or, for a name ending in .safetensors, an export (every tensor finite; class names
// from its ddpm:class:<i> metadata).
InitWeights read_init_weights(const std::string& path, Weights weights);

// Copies the weights into `model` and its EMA `shadow` through load_module_tensors: every tensor
// must have a counterpart of the same shape, or the one-line error names the first that differs,
// except the class embedding when the new run's classes (`class_names`) differ from the source's:
// both then take `model`'s fresh one. Returns what was done, for the log.
std::string apply_init_weights(const InitWeights& init, const std::vector<std::string>& class_names,
                               UNet& model, UNet& shadow);

}  // namespace ddpm
