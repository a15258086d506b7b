#include "ddpm/cli/sample_edit.h"

#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "ddpm/base/error.h"
#include "ddpm/cli/commands.h"
#include "ddpm/data/dataset.h"
#include "ddpm/data/image_inputs.h"
#include "ddpm/inference/invert.h"
#include "ddpm/sampling/editing.h"
#include "ddpm/sampling/noise.h"

namespace ddpm {
namespace fs = std::filesystem;

namespace {

constexpr double kDefaultStrength = 0.6;

void require(const cxxopts::ParseResult& args, const char* flag, const char* needs,
             const std::string& why) {
  if (args.count(flag) && !args.count(needs)) {
    throw Error(std::string("--") + flag + " needs --" + needs + " " + why);
  }
}

void check_flag_combinations(const cxxopts::ParseResult& args) {
  require(args, "strength", "init", "(the images to start from)");
  require(args, "mask", "init", "(the images to inpaint)");
  require(args, "resample-jumps", "mask", "(RePaint resamples while inpainting)");
  require(args, "resample-length", "mask", "(RePaint resamples while inpainting)");
  require(args, "frames", "interpolate", "(the strip's endpoints)");
  if (args.count("init") && args.count("interpolate")) {
    throw Error("--init and --interpolate exclude each other");
  }
  for (const char* flag : {"num", "per-class"}) {
    if ((args.count("init") || args.count("interpolate")) && args.count(flag)) {
      throw Error(std::string("--") + flag +
                  " does not apply to --init (one output per input) or --interpolate (--frames)");
    }
  }
}

// The inputs as the grid of an edit shows them: the regenerated region grey.
torch::Tensor shown_inputs(const torch::Tensor& inputs, const torch::Tensor& keep) {
  return keep.defined() ? torch::where(keep, inputs, torch::zeros_like(inputs)) : inputs;
}

// --init with --strength or --mask, into g.
void read_edit_inputs(const cxxopts::ParseResult& args, SampleRun& run, ImageInputs& inputs) {
  const ModelConfig& mc = run.config.model;
  inputs =
      load_image_inputs(args["init"].as<std::string>(), mc.image_size, mc.in_channels, "--init");
  GenerateOptions& g = run.g;
  g.n = inputs.size();
  g.init = to_model_range(inputs.images);
  g.strength = args.count("mask") ? 1.0 : kDefaultStrength;
  if (args.count("strength")) {
    g.strength = args["strength"].as<double>();
    if (!valid_strength(g.strength)) {
      std::ostringstream message;
      message << "--strength " << g.strength
              << ": must be in (0, 1] (the share of the noise schedule each input goes into)";
      throw Error(message.str());
    }
  }
  if (!args.count("mask")) return;
  g.keep = load_keep_masks(args["mask"].as<std::string>(), inputs, mc.image_size, "--mask");
  const ResampleDefaults& resample = inpainting_resampling(g.sampler.sampler);
  g.sampler.resample_jumps = args.count("resample-jumps")
                                 ? flag_in_range<int64_t>(args, "resample-jumps", 1, 100)
                                 : resample.jumps;
  g.sampler.resample_length = args.count("resample-length")
                                  ? flag_in_range<int64_t>(args, "resample-length", 1, 1000)
                                  : resample.length;
}

int run_edit(const cxxopts::ParseResult& args, SampleRun& run, const torch::Device device,
             ProgressLine& progress) {
  ImageInputs inputs;
  read_edit_inputs(args, run, inputs);
  GenerateOptions& g = run.g;
  check_grid_size(2 * g.n, pair_grid_columns(g.n), run.config.model.image_size);
  const fs::path out = output_path(args, run.ckpt_path);
  InferenceModel m = load_for_inference(run.ckpt, run.weights, device);
  auto images = generate(m.model, m.diffusion, g);
  progress.end();
  PngText text = png_text(run.ckpt_path, run.ckpt.meta(), run.weights, g);
  text.emplace_back("ddpm:strength", std::to_string(g.strength));
  text.emplace_back("ddpm:init", args["init"].as<std::string>());
  if (args.count("mask")) text.emplace_back("ddpm:mask", args["mask"].as<std::string>());
  write_png(out.string(), pairs_grid(shown_inputs(g.init, g.keep), images), text);
  if (args.count("individual")) {
    write_individual(args["individual"].as<std::string>(), images, text, input_names(inputs));
  }
  std::cout << "wrote " << out.string() << " (" << g.n << " inputs and their outputs, ";
  if (g.keep.defined()) {
    std::cout << "inpainted, resampling " << g.sampler.resample_jumps << "x"
              << g.sampler.resample_length;
  } else {
    std::cout << "strength " << g.strength;
  }
  std::cout << ", " << choice_name(g.sampler.sampler) << ")\n";
  return 0;
}

}  // namespace

void add_editing_options(cxxopts::Options& options) {
  options.add_options("editing")(
      "init",
      "an image, or a folder of images, to start from: one output per input, beside it in the "
      "grid (image-to-image with --strength, inpainting with --mask)",
      cxxopts::value<std::string>())(
      "strength",
      "image-to-image: how far into the noise each input goes before it is denoised, in (0, 1] "
      "(default 0.6; 1 with --mask)",
      cxxopts::value<double>())(
      "mask",
      "inpainting: a mask of the input's size, or a folder of masks named as the inputs; white "
      "regenerates, black keeps (those pixels stay exactly)",
      cxxopts::value<std::string>())(
      "resample-jumps",
      "inpainting: RePaint's passes over each stretch of --resample-length steps (1 = none; "
      "default 2; the time grows with it)",
      cxxopts::value<int64_t>())(
      "resample-length",
      "inpainting: RePaint's jump length in sampler steps (default 10 for ddpm, 1 for the others)",
      cxxopts::value<int64_t>())(
      "interpolate",
      "A,B: a strip from A to B by spherical interpolation of their DDIM latents; A and B are "
      "image files or seeds (DDIM, eta = 0)",
      cxxopts::value<std::string>())(
      "frames", "images in the --interpolate strip, endpoints included (default 8)",
      cxxopts::value<int64_t>())(
      "refine", "--interpolate from images: fixed-point iterations per inversion step (default 2)",
      cxxopts::value<int64_t>());
}

bool editing_requested(const cxxopts::ParseResult& args) {
  check_flag_combinations(args);
  return args.count("init") > 0 || args.count("interpolate") > 0;
}

int sample_edits(const cxxopts::ParseResult& args, SampleRun& run) {
  const torch::Device device = start_runtime(run.config);
  const Stopwatch watch;
  ProgressLine progress(std::cerr, stderr_is_terminal());
  run.g.progress = sampling_progress(progress, run.g.batch, watch);
  if (args.count("interpolate")) return sample_interpolation(args, run, device, progress);
  return run_edit(args, run, device, progress);
}

}  // namespace ddpm
