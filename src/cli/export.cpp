#include <iostream>

#include "ddpm/base/atomic_file.h"
#include "ddpm/cli/commands.h"
#include "ddpm/inference/inference.h"
#include "ddpm/io/checkpoint.h"
#include "ddpm/io/safetensors.h"
#include "ddpm/model/unet.h"

namespace ddpm {

int command_export(int argc, char** argv) {
  cxxopts::Options options(
      argv[0],
      "Write a checkpoint's weights as safetensors (the EMA weights by default), "
      "with the resolved config and the step in its metadata.");
  options.add_options()("ckpt", "checkpoint file", cxxopts::value<std::string>())(
      "out", "output .safetensors file", cxxopts::value<std::string>())(
      "raw", "export the raw training weights instead of the EMA weights");
  cxxopts::ParseResult args;
  if (!parse_options(options, argc, argv, args)) return 0;
  if (!args.count("ckpt") || !args.count("out")) {
    throw UsageError("give --ckpt FILE and --out FILE.safetensors", options.help());
  }
  const std::string path = args["ckpt"].as<std::string>(), out = args["out"].as<std::string>();
  const Checkpoint ckpt = Checkpoint::open(path);
  const Weights weights = args.count("raw") ? Weights::raw : Weights::ema;
  const std::string part = weights_part(weights);
  SafeTensors file;
  file.tensors = module_tensors(*load_for_inference(ckpt, weights, torch::kCPU).model);
  file.metadata = {{"format", "pt"},
                   {"ddpm:config", config_to_string(ckpt.meta().config)},
                   {"ddpm:step", std::to_string(ckpt.meta().step)},
                   {"ddpm:weights", part},
                   {"ddpm:version", DDPM_VERSION}};
  for (size_t i = 0; i < ckpt.meta().class_names.size(); ++i) {
    file.metadata["ddpm:class:" + std::to_string(i)] = ckpt.meta().class_names[i];
  }
  const auto bytes = encode_safetensors(file);
  write_file_atomically(out, bytes.data(), bytes.size());
  std::cout << "wrote " << out << " (" << file.tensors.size() << " tensors, " << part
            << " weights, step " << ckpt.meta().step << ")\n";
  return 0;
}

}  // namespace ddpm
