// `ddpm sample --interpolate A,B --frames N`: DDIM latents of two images (inverted) or seeds (their
// starting noise), interpolated spherically and decoded with DDIM, η = 0, into one strip.
#include <cctype>
#include <filesystem>
#include <iostream>

#include "ddpm/base/error.h"
#include "ddpm/cli/commands.h"
#include "ddpm/cli/sample_edit.h"
#include "ddpm/data/dataset.h"
#include "ddpm/data/image_inputs.h"
#include "ddpm/inference/invert.h"
#include "ddpm/sampling/editing.h"
#include "ddpm/sampling/noise.h"

namespace ddpm {
namespace fs = std::filesystem;

namespace {

constexpr int64_t kDefaultFrames = 8;

struct Endpoint {
  torch::Tensor image;   // [1, C, H, W] in [-1, 1], for an image endpoint
  torch::Tensor latent;  // [1, C, H, W]
};

std::vector<std::string> endpoint_names(const std::string& value) {
  const auto comma = value.find(',');
  if (comma == std::string::npos || comma == 0 || comma + 1 == value.size() ||
      value.find(',', comma + 1) != std::string::npos) {
    throw Error("--interpolate " + value +
                ": give two endpoints A,B, each an image file or a seed (e.g. --interpolate 3,17)");
  }
  return {value.substr(0, comma), value.substr(comma + 1)};
}

bool is_seed(const std::string& text) {
  if (text.empty() || text.size() > 19) return false;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

Endpoint endpoint(const std::string& name, InferenceModel& m, const GenerateOptions& g,
                  int64_t refine, torch::Device device) {
  const ModelConfig& mc = m.model->config();
  std::error_code ec;
  if (!fs::is_regular_file(name, ec)) {
    if (!is_seed(name)) {
      throw Error("--interpolate: " + name + " is neither an image file nor a seed");
    }
    NoiseStream noise({std::stoull(name)}, {mc.in_channels, mc.image_size, mc.image_size}, device);
    return {{}, noise.next()};
  }
  const auto inputs = load_image_inputs(name, mc.image_size, mc.in_channels, "--interpolate");
  auto image = to_model_range(inputs.images);
  GenerateOptions one = g;
  one.n = 1;
  one.progress = nullptr;
  return {image, invert(m.model, m.diffusion, one, image, refine)};
}

}  // namespace

int sample_interpolation(const cxxopts::ParseResult& args, SampleRun& run, torch::Device device,
                         ProgressLine& progress) {
  const auto names = endpoint_names(args["interpolate"].as<std::string>());
  const int64_t frames =
      args.count("frames") ? flag_in_range<int64_t>(args, "frames", 2, 1000) : kDefaultFrames;
  const int64_t refine = refine_flag(args);
  GenerateOptions& g = run.g;
  use_ddim(args, run.config, g, "--interpolate");
  check_grid_size(frames + 2, frames + 2, run.config.model.image_size);
  const fs::path out = output_path(args, run.ckpt_path, "interpolation.png");
  InferenceModel m = load_for_inference(run.ckpt, run.weights, device);
  const Endpoint a = endpoint(names[0], m, g, refine, device);
  const Endpoint b = endpoint(names[1], m, g, refine, device);
  std::vector<torch::Tensor> latents;
  for (int64_t k = 0; k < frames; ++k) {
    latents.push_back(slerp(a.latent[0], b.latent[0], static_cast<double>(k) / (frames - 1)));
  }
  g.n = frames;
  g.latents = torch::stack(latents);
  auto strip = generate(m.model, m.diffusion, g);
  progress.end();
  std::vector<torch::Tensor> row;
  if (a.image.defined()) row.push_back(a.image.to(strip.device()));
  row.push_back(strip);
  if (b.image.defined()) row.push_back(b.image.to(strip.device()));
  auto all = torch::cat(row);
  PngText text = png_text(run.ckpt_path, run.ckpt.meta(), run.weights, g);
  text.emplace_back("ddpm:interpolate", args["interpolate"].as<std::string>());
  write_png(out.string(), make_grid(all, all.size(0)), text);
  if (args.count("individual")) write_individual(args["individual"].as<std::string>(), strip, text);
  std::cout << "wrote " << out.string() << " (" << frames << " frames from " << names[0] << " to "
            << names[1] << (all.size(0) > frames ? ", the input images at the ends" : "")
            << ", ddim)\n";
  return 0;
}

}  // namespace ddpm
