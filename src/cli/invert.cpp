// `ddpm invert`: images to their DDIM latents (η = 0), saved as safetensors, with the PSNR of
// decoding them again and a grid of each input beside its reconstruction.
#include "ddpm/inference/invert.h"

#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "ddpm/base/atomic_file.h"
#include "ddpm/base/error.h"
#include "ddpm/cli/commands.h"
#include "ddpm/cli/sample_common.h"
#include "ddpm/data/dataset.h"
#include "ddpm/data/image_inputs.h"
#include "ddpm/inference/generation.h"
#include "ddpm/io/safetensors.h"
#include "ddpm/sampling/editing.h"

namespace ddpm {
namespace fs = std::filesystem;

namespace {

void add_invert_options(cxxopts::Options& options) {
  options.add_options()("ckpt", "checkpoint file", cxxopts::value<std::string>())(
      "input", "an image, or a folder of images, to invert", cxxopts::value<std::string>())(
      "out", "latents file (default: latents.safetensors beside the checkpoint)",
      cxxopts::value<std::string>())(
      "steps", "DDIM steps (default: the config's when it samples with DDIM, else 50)",
      cxxopts::value<int64_t>())("spacing", "DDIM timesteps: auto, uniform, quadratic or logsnr",
                                 cxxopts::value<std::string>())(
      "refine",
      "fixed-point iterations per step (default 2; 0 is plain DDIM inversion, each costs one "
      "more network evaluation per step)",
      cxxopts::value<int64_t>())("class", "class name or index (class-conditional models)",
                                 cxxopts::value<std::string>())(
      "guidance", "classifier-free guidance weight w (default 0)", cxxopts::value<double>())(
      "batch", "images per forward pass", cxxopts::value<int64_t>())(
      "raw", "use the raw training weights instead of the EMA weights")(
      "no-clip", "do not clip the predicted x0 to [-1, 1] when decoding");
}

SafeTensors latents_file(const torch::Tensor& latents, const ImageInputs& inputs,
                         const std::vector<double>& db, const std::string& ckpt_path,
                         const GenerateOptions& g, int64_t steps, int64_t refine) {
  SafeTensors file;
  file.tensors["latents"] = latents.to(torch::kCPU).contiguous();
  file.metadata = {{"ddpm:checkpoint", ckpt_path},
                   {"ddpm:sampler", "ddim"},
                   {"ddpm:steps", std::to_string(steps)},
                   {"ddpm:refine", std::to_string(refine)},
                   {"ddpm:class", std::to_string(g.class_label)},
                   {"ddpm:names", nlohmann::json(input_names(inputs)).dump()},
                   {"ddpm:psnr_db", nlohmann::json(db).dump()}};
  return file;
}

void report(const ImageInputs& inputs, const std::vector<double>& db) {
  double sum = 0.0, worst = 1e9;
  for (size_t i = 0; i < db.size(); ++i) {
    if (i < 20) {
      std::cout << "  " << std::left << std::setw(32) << file_stem(inputs.paths[i]) << std::right
                << std::fixed << std::setprecision(2) << db[i] << " dB\n";
    }
    sum += db[i];
    worst = std::min(worst, db[i]);
  }
  if (db.size() > 20) std::cout << "  ... (" << db.size() - 20 << " more)\n";
  std::cout << "reconstruction PSNR: mean " << std::fixed << std::setprecision(2)
            << sum / static_cast<double>(db.size()) << " dB, lowest " << worst << " dB over "
            << db.size() << " images\n";
}

}  // namespace

int command_invert(int argc, char** argv) {
  cxxopts::Options options(argv[0],
                           "Map images to their DDIM latents (eta = 0) and report how closely "
                           "decoding the latents gives the images back.");
  add_invert_options(options);
  cxxopts::ParseResult args;
  if (!parse_checkpoint_command(options, argc, argv, args)) return 0;
  if (!args.count("input")) throw UsageError("give --input IMAGE_OR_FOLDER", options.help());
  const std::string ckpt_path = args["ckpt"].as<std::string>();
  const Checkpoint ckpt = Checkpoint::open(ckpt_path);
  const Config config = sample_config(args, ckpt.meta());
  GenerateOptions g = generation_options(config, 1, 0);
  use_ddim(args, config, g, "ddpm invert");
  if (args.count("class"))
    g.class_label = resolve_class(args["class"].as<std::string>(), ckpt.meta());
  const int64_t refine = refine_flag(args);
  const ModelConfig& mc = config.model;
  const auto inputs =
      load_image_inputs(args["input"].as<std::string>(), mc.image_size, mc.in_channels, "--input");
  g.n = inputs.size();
  check_grid_size(2 * g.n, pair_grid_columns(g.n), mc.image_size);
  const fs::path out = output_path(args, ckpt_path, "latents.safetensors");
  const Weights weights = args.count("raw") ? Weights::raw : Weights::ema;

  InferenceModel m = load_for_inference(ckpt, weights, start_runtime(config));
  const auto images = to_model_range(inputs.images);
  g.latents = invert(m.model, m.diffusion, g, images, refine);
  const auto decoded = generate(m.model, m.diffusion, g).cpu();
  const auto db = psnr(images, decoded);
  const auto bytes = encode_safetensors(
      latents_file(g.latents, inputs, db, ckpt_path, g,
                   resolved_steps(g.sampler, config.diffusion.timesteps), refine));
  write_file_atomically(out.string(), bytes.data(), bytes.size());
  fs::path grid = out;
  grid.replace_extension(".png");
  write_png(grid.string(), pairs_grid(images, decoded),
            png_text(ckpt_path, ckpt.meta(), weights, g));
  report(inputs, db);
  std::cout << "wrote " << out.string() << " (" << g.n << " latents) and " << grid.string()
            << " (each input beside its reconstruction)\n";
  return 0;
}

}  // namespace ddpm
