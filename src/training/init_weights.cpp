#include "ddpm/training/init_weights.h"

#include <sstream>

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

std::string shape_text(const torch::Tensor& t) {
  std::ostringstream os;
  os << t.sizes();
  return os.str();
}

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

// Where the source and the new model disagree, apart from a class embedding that may differ.
void check_same_architecture(const std::map<std::string, torch::Tensor>& source,
                             const std::map<std::string, torch::Tensor>& target, bool skip_classes,
                             const std::string& path) {
  const std::string fix = "; --init needs a model of the same architecture (model.* settings)";
  for (const auto& [name, t] : target) {
    if (skip_classes && is_class_embedding(name)) continue;
    const auto it = source.find(name);
    if (it == source.end())
      throw Error("--init " + path + ": tensor " + name + " of this config's model is missing" +
                  fix);
    if (it->second.sizes() != t.sizes()) {
      throw Error("--init " + path + ": tensor " + name + " is " + shape_text(it->second) +
                  " there and " + shape_text(t) + " in this config's model" + fix);
    }
  }
  for (const auto& [name, t] : source) {
    if (!(skip_classes && is_class_embedding(name)) && !target.count(name))
      throw Error("--init " + path + ": tensor " + name + " has no place in this config's model" +
                  fix);
  }
}

void copy_into(torch::nn::Module& module, const std::map<std::string, torch::Tensor>& tensors,
               bool skip_classes) {
  torch::NoGradGuard no_grad;
  auto copy = [&](const std::string& name, torch::Tensor& target) {
    if (skip_classes && is_class_embedding(name)) return;
    target.copy_(tensors.at(name).to(target.device(), target.scalar_type()));
  };
  for (auto& p : module.named_parameters()) copy(p.key(), p.value());
  for (auto& b : module.named_buffers()) copy(b.key(), b.value());
}

}  // namespace

InitWeights read_init_weights(const std::string& path, Weights weights) {
  if (ends_with(path, ".safetensors")) return from_safetensors(path);
  return from_checkpoint(path, weights);
}

std::string apply_init_weights(const InitWeights& init, const std::vector<std::string>& class_names,
                               UNet& model, UNet& shadow) {
  const auto target = module_tensors(*model);
  const bool conditional = model->config().num_classes > 0;
  const bool classes_differ = init.class_names != class_names;
  check_same_architecture(init.tensors, target, classes_differ, init.path);
  copy_into(*model, init.tensors, classes_differ);
  copy_into(*shadow, init.tensors, classes_differ);
  std::string line = "initialised from " + init.description;
  if (!classes_differ) return line;
  if (!conditional) return line + "; its class embedding is left out: this run is unconditional";
  // Both kept the fresh class embedding of TrainState, where the EMA starts as the model's copy.
  return line + "; the class embedding starts afresh: this run's " +
         std::to_string(class_names.size()) + " classes are not the source's" +
         (init.class_names.empty() ? " (it names none)"
                                   : " " + std::to_string(init.class_names.size()));
}

}  // namespace ddpm
