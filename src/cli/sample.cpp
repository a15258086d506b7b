#include <unistd.h>

#include <cctype>
#include <cmath>
#include <filesystem>
#include <functional>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ddpm/base/error.h"
#include "ddpm/base/progress.h"
#include "ddpm/base/stopwatch.h"
#include "ddpm/cli/commands.h"
#include "ddpm/cli/sample_common.h"
#include "ddpm/cli/sample_edit.h"
#include "ddpm/data/image_io.h"
#include "ddpm/inference/generate.h"
#include "ddpm/inference/generation.h"
#include "ddpm/inference/inference.h"
#include "ddpm/io/checkpoint.h"

namespace ddpm {
namespace fs = std::filesystem;

namespace {

// At most this many images per call: sampling is the expensive part, and the grid must fit.
constexpr int64_t kMaxSampleImages = 65536;

void add_sample_options(cxxopts::Options& options) {
  options.add_options()("ckpt", "checkpoint file (e.g. runs/NAME/last.pt)",
                        cxxopts::value<std::string>())(
      "num", "number of images (also --n)", cxxopts::value<int64_t>()->default_value("64"))(
      "out", "output PNG grid (default: samples.png beside the checkpoint)",
      cxxopts::value<std::string>())("nrow", "images per grid row (default: ceil(sqrt(n)))",
                                     cxxopts::value<int64_t>())(
      "individual", "also write one PNG per image into this folder", cxxopts::value<std::string>())(
      "sampler",
      "ddpm (ancestral, all T steps), ddim, dpmpp2m (DPM-Solver++(2M)) or heun (EDM, Karras "
      "et al. 2022); default: the config's",
      cxxopts::value<std::string>())(
      "steps",
      "ddim/dpmpp2m: network evaluations; heun: noise levels, 2 steps - 1 evaluations "
      "(default: the config's, or " +
          default_steps_text() + ")",
      cxxopts::value<int64_t>())("eta", "ddim: noise scale (0 = deterministic)",
                                 cxxopts::value<double>())(
      "churn", "heun: S_churn, fresh noise per step (0 = deterministic)", cxxopts::value<double>())(
      "spacing",
      "ddim/dpmpp2m timesteps: auto, uniform, quadratic or logsnr (default: the config's; auto: "
      "ddim uniform, dpmpp2m logsnr)",
      cxxopts::value<std::string>())("seed", "image i starts from noise seeded with seed + i",
                                     cxxopts::value<uint64_t>()->default_value("0"))(
      "batch", "images per forward pass (memory only: never changes the pictures)",
      cxxopts::value<int64_t>())("class", "class name or index (class-conditional models)",
                                 cxxopts::value<std::string>())(
      "per-class",
      "class-conditional models: K images of every class in class order, one row per class "
      "(whole classes per row, about square, when K is small against the classes; sets --n "
      "and --nrow)",
      cxxopts::value<int64_t>())("guidance", "classifier-free guidance weight w",
                                 cxxopts::value<double>())(
      "raw", "use the raw training weights instead of the EMA weights")(
      "no-clip", "do not clip the predicted x0 to [-1, 1] during sampling")(
      "bf16", "bf16 autocast of the network (for GPUs; on CPUs without bf16 units it is slower)");
  add_guidance_interval_option(options);
  add_editing_options(options);
}

// What to draw: count, seeds, sampler, classes and guidance.
GenerateOptions generate_options(const cxxopts::ParseResult& args, const Config& config,
                                 const CheckpointMeta& meta) {
  GenerateOptions g =
      generation_options(config, flag_in_range<int64_t>(args, "num", 1, kMaxSampleImages),
                         args["seed"].as<uint64_t>());
  g.bf16 = args.count("bf16") > 0;
  const int64_t classes = config.model.num_classes;
  if (args.count("guidance") && classes == 0) {
    throw Error(
        "--guidance needs a class-conditional model (this checkpoint has model.num_classes = 0)");
  }
  if (args.count("class")) g.class_label = resolve_class(args["class"].as<std::string>(), meta);
  if (args.count("per-class")) {
    if (classes == 0) {
      throw Error(
          "--per-class needs a class-conditional model (this checkpoint has model.num_classes = "
          "0)");
    }
    if (args.count("class")) throw Error("--per-class and --class exclude each other");
    draw_per_class(g, flag_in_range<int64_t>(args, "per-class", 1, 1000), classes);
  }
  return g;
}

}  // namespace

int command_sample(int argc, char** argv) {
  cxxopts::Options options(argv[0], "Sample images from a checkpoint into a PNG grid.");
  add_sample_options(options);
  cxxopts::ParseResult args;
  if (!parse_checkpoint_command(options, argc, argv, args)) return 0;
  const std::string ckpt_path = args["ckpt"].as<std::string>();
  const Checkpoint ckpt = Checkpoint::open(ckpt_path);
  const CheckpointMeta& meta = ckpt.meta();
  const Config config = sample_config(args, meta);
  GenerateOptions g = generate_options(args, config, meta);
  const Weights weights = args.count("raw") ? Weights::raw : Weights::ema;
  if (editing_requested(args)) {
    SampleRun run{ckpt_path, ckpt, config, g, weights};
    return sample_edits(args, run);
  }
  const int64_t nrow =
      args.count("nrow") ? flag_in_range<int64_t>(args, "nrow", 1, g.n) : grid_columns(g);
  check_grid_size(g.n, nrow, config.model.image_size);
  const fs::path out = output_path(args, ckpt_path);

  const torch::Device device = start_runtime(config);
  InferenceModel m = load_for_inference(ckpt, weights, device);
  const Stopwatch watch;
  ProgressLine progress(std::cerr, stderr_is_terminal());
  g.progress = sampling_progress(progress, g.batch, watch);
  auto images = generate(m.model, m.diffusion, g);  // [n, C, H, W]
  progress.end();

  const PngText text = png_text(ckpt_path, meta, weights, g);
  write_png(out.string(), make_grid(images, nrow), text);
  if (args.count("individual"))
    write_individual(args["individual"].as<std::string>(), images, text);
  const double seconds = watch.seconds();
  std::cout << "wrote " << out.string() << " (" << g.n << " images, step " << meta.step << ", "
            << choice_name(g.sampler.sampler) << ", " << std::fixed << std::setprecision(1)
            << seconds << " s)\n";
  return 0;
}

}  // namespace ddpm
