#include "ddpm/training/init_weights.h"

#include <iterator>

#include "ddpm/base/error.h"
#include "ddpm/base/file_input.h"
#include "ddpm/io/checkpoint.h"
#include "ddpm/io/safetensors.h"

namespace ddpm {
namespace {

constexpr const char* kClassEmbedding = "class_embed.";

bool ends_with(const std::string& text, const std::string& tail) {
  return text.size() >= tail.size() &&
         text.compare(text.size() - tail.size(), tail.size(), tail) == 0;
}

bool is_class_embedding(const std::string& name) { return name.rfind(kClassEmbedding, 0) == 0; }

InitWeights from_checkpoint(const std::string& path, Weights weights) {
  const Checkpoint checkpoint = Checkpoint::open(path);
  const char* part = weights_part(weights);
  if (!checkpoint.has(part)) {
    throw Error("--init " + path + ": the checkpoint has no '" + part + "' weights");
  }
  UNet source(checkpoint.meta().config.model);
  checkpoint.load_module(part, *source, torch::kCPU);
  InitWeights init;
  init.path = path;
  init.tensors = module_tensors(*source);
  init.class_names = checkpoint.meta().class_names;
  init.description = path + " (" + (weights == Weights::ema ? "EMA" : "raw") + " weights of step " +
                     std::to_string(checkpoint.meta().step) + ")";
  return init;
}

InitWeights from_safetensors(const std::string& path) {
  SafeTensors file = decode_safetensors(read_file_bytes(path, "safetensors file"), path);
  for (const auto& [name, tensor] : file.tensors) {
    if (tensor.is_floating_point() && !torch::isfinite(tensor).all().item<bool>()) {
      throw Error("--init " + path + ": tensor " + name + " holds NaN or infinite values");
    }
  }
  InitWeights init;
  init.path = path;
  init.tensors = std::move(file.tensors);
  for (int64_t i = 0;; ++i) {
    const auto it = file.metadata.find("ddpm:class:" + std::to_string(i));
    if (it == file.metadata.end()) break;
    init.class_names.push_back(it->second);
  }
  init.description = path + " (safetensors)";
  return init;
}

// The source's tensors with the class embedding replaced by `model`'s own (its fresh
// initialisation), or left out where `model` has none.
std::map<std::string, torch::Tensor> with_own_class_embedding(
    std::map<std::string, torch::Tensor> tensors, UNet& model) {
  for (auto it = tensors.begin(); it != tensors.end();) {
    it = is_class_embedding(it->first) ? tensors.erase(it) : std::next(it);
  }
  for (const auto& [name, tensor] : module_tensors(*model)) {
    if (is_class_embedding(name)) tensors[name] = tensor;
  }
  return tensors;
}

}  // namespace

InitWeights read_init_weights(const std::string& path, Weights weights) {
  if (ends_with(path, ".safetensors")) return from_safetensors(path);
  return from_checkpoint(path, weights);
}

std::string apply_init_weights(const InitWeights& init, const std::vector<std::string>& class_names,
                               UNet& model, UNet& shadow) {
  const bool conditional = model->config().num_classes > 0;
  const bool classes_differ = init.class_names != class_names;
  const auto tensors =
      classes_differ ? with_own_class_embedding(init.tensors, model) : init.tensors;
  try {
    // Names, shapes, dtypes and values, checked before anything is copied.
    load_module_tensors(*model, tensors, "--init " + init.path);
    load_module_tensors(*shadow, tensors, "--init " + init.path);
  } catch (const Error& e) {
    throw Error(std::string(e.what()) +
                "; --init needs a model of the same architecture (model.* settings)");
  }
  std::string line = "initialised from " + init.description;
  if (!classes_differ) return line;
  if (!conditional) return line + "; its class embedding is left out: this run is unconditional";
  return line + "; the class embedding starts afresh: this run's " +
         std::to_string(class_names.size()) + " classes are not the source's" +
         (init.class_names.empty() ? " (it names none)"
                                   : " " + std::to_string(init.class_names.size()));
}

}  // namespace ddpm
