#include <iostream>
#include <nlohmann/json.hpp>

#include "ddpm/base/error.h"
#include "ddpm/base/file_input.h"
#include "ddpm/base/json_input.h"
#include "ddpm/cli/commands.h"
#include "ddpm/io/checkpoint.h"
#include "ddpm/io/safetensors.h"
#include "ddpm/model/unet.h"

namespace ddpm {
namespace {

// The config: --config when given, else the one `ddpm export` embedded in the metadata.
Config imported_config(const cxxopts::ParseResult& args, const SafeTensors& file,
                       const std::string& path) {
  if (args.count("config")) return load_config(args["config"].as<std::string>());
  const auto it = file.metadata.find("ddpm:config");
  if (it == file.metadata.end()) {
    throw Error(path +
                ": no ddpm:config in its metadata (not written by 'ddpm export'); give --config "
                "FILE with the model's settings");
  }
  return config_from_json_text(it->second, path + " (metadata ddpm:config)");
}

int64_t imported_step(const SafeTensors& file) {
  const auto it = file.metadata.find("ddpm:step");
  if (it == file.metadata.end()) return 0;
  char* end = nullptr;
  const long long step = std::strtoll(it->second.c_str(), &end, 10);
  return (end && *end == '\0' && step >= 0) ? step : 0;
}

}  // namespace

int command_import(int argc, char** argv) {
  cxxopts::Options options(
      argv[0],
      "Make a weights-only checkpoint from a safetensors file, for sample, eval "
      "and info (not for --resume: it has no optimizer state).");
  options.add_options()("weights", "input .safetensors file", cxxopts::value<std::string>())(
      "out", "output checkpoint (.pt)", cxxopts::value<std::string>())(
      "config", "JSON config of the model (default: the one in the file's metadata)",
      cxxopts::value<std::string>());
  cxxopts::ParseResult args;
  if (!parse_options(options, argc, argv, args)) return 0;
  if (!args.count("weights") || !args.count("out")) {
    throw UsageError("give --weights FILE.safetensors and --out FILE.pt", options.help());
  }
  const std::string path = args["weights"].as<std::string>();
  const SafeTensors file = decode_safetensors(read_file_bytes(path, "safetensors file"), path);
  CheckpointMeta meta;
  meta.config = imported_config(args, file, path);
  validate(meta.config);
  meta.step = imported_step(file);
  for (int64_t i = 0; i < meta.config.model.num_classes; ++i) {
    const auto it = file.metadata.find("ddpm:class:" + std::to_string(i));
    meta.class_names.push_back(it != file.metadata.end() ? it->second : std::to_string(i));
  }
  UNet model(meta.config.model);
  load_module_tensors(*model, file.tensors, path);
  CheckpointParts parts;
  parts.model = model.get();  // the same weights serve as raw and EMA weights
  parts.ema = model.get();
  parts.rng = false;
  const std::string out = args["out"].as<std::string>();
  save_checkpoint(out, meta, parts);
  std::cout << "wrote " << out << " (weights-only checkpoint, " << file.tensors.size()
            << " tensors, step " << meta.step << ")\n";
  return 0;
}

}  // namespace ddpm
