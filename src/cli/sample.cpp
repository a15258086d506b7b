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
#include "ddpm/data/image_io.h"
#include "ddpm/inference/generate.h"
#include "ddpm/inference/generation.h"
#include "ddpm/inference/inference.h"
#include "ddpm/io/checkpoint.h"

namespace ddpm {
namespace fs = std::filesystem;

namespace {

// A class given by name (from the checkpoint's mapping) or by index.
int64_t resolve_class(const std::string& value, const CheckpointMeta& meta) {
  const int64_t classes = meta.config.model.num_classes;
  if (classes == 0) {
    throw Error("--class " + value + ": this model is unconditional (model.num_classes = 0)");
  }
  for (size_t i = 0; i < meta.class_names.size(); ++i) {
    if (meta.class_names[i] == value) return static_cast<int64_t>(i);
  }
  // Folders numbered for their order ("7_Sneaker", as `ddpm data fashion-mnist` writes them) also
  // answer to the name after the number, case-insensitively ("sneaker").
  auto lower = [](std::string s) {
    for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s;
  };
  for (size_t i = 0; i < meta.class_names.size(); ++i) {
    const auto& name = meta.class_names[i];
    const auto cut = name.find('_');
    if (cut != std::string::npos && cut > 0 && std::isdigit(static_cast<unsigned char>(name[0])) &&
        lower(name.substr(cut + 1)) == lower(value)) {
      return static_cast<int64_t>(i);
    }
  }
  char* end = nullptr;
  const long long index = std::strtoll(value.c_str(), &end, 10);
  if (end && *end == '\0' && !value.empty() && index >= 0 && index < classes) return index;
  std::string known;
  for (size_t i = 0; i < meta.class_names.size() && i < 10; ++i) {
    known += (i ? ", " : "") + meta.class_names[i];
  }
  throw Error(
      "--class " + value + ": no such class (indices 0.." + std::to_string(classes - 1) +
      (known.empty() ? "" : "; names: " + known + (meta.class_names.size() > 10 ? ", ..." : "")) +
      ")");
}

// At most this many images per call: sampling is the expensive part, and the grid must fit.
constexpr int64_t kMaxSampleImages = 65536;

// The grid is one PNG: its size is checked before any sampling starts.
void check_grid_size(int64_t n, int64_t nrow, int64_t image_size) {
  const int64_t cell = image_size + 2;  // make_grid's padding
  const int64_t width = nrow * cell + 2, height = (n + nrow - 1) / nrow * cell + 2;
  if (width * height > kMaxImagePixels || width > 65535 || height > 65535) {
    throw Error("the grid of " + std::to_string(n) + " images, " + std::to_string(nrow) +
                " per row, would be " + std::to_string(width) + "x" + std::to_string(height) +
                " pixels, above the limit of " + std::to_string(kMaxImagePixels / 1000000) +
                " megapixels or 65535 a side; lower --n (or --per-class) or change --nrow");
  }
}

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
}

// The checkpoint's config with the flags that stand for config keys, validated as a config is.
Config sample_config(const cxxopts::ParseResult& args, const CheckpointMeta& meta) {
  Config config = meta.config;
  if (args.count("sampler")) {
    config.sample.sampler =
        parse_choice<Sampler>(args["sampler"].as<std::string>(), "--sampler: sample.sampler");
  }
  if (args.count("steps")) config.sample.steps = args["steps"].as<int64_t>();
  if (args.count("spacing")) {
    config.sample.spacing =
        parse_choice<Spacing>(args["spacing"].as<std::string>(), "--spacing: sample.spacing");
  }
  if (args.count("eta")) config.sample.eta = args["eta"].as<double>();
  if (args.count("churn")) config.sample.churn = args["churn"].as<double>();
  if (args.count("batch")) config.sample.batch = args["batch"].as<int64_t>();
  if (args.count("guidance")) config.sample.guidance = args["guidance"].as<double>();
  guidance_interval_flag(args, config);
  if (args.count("no-clip")) config.sample.clip_denoised = false;
  runtime_flags_to_config(args, config);
  auto flags = kRuntimeFlags;
  flags.insert(flags.end(), {{"--sampler", "sample.sampler"},
                             {"--steps", "sample.steps"},
                             {"--spacing", "sample.spacing"},
                             {"--eta", "sample.eta"},
                             {"--churn", "sample.churn"},
                             {"--batch", "sample.batch"},
                             {"--guidance", "sample.guidance"},
                             {"--guidance-interval", "sample.guidance_interval"}});
  validate_flags(config, flags);
  if (args.count("steps") && config.sample.steps == 0) throw Error("--steps 0: must be at least 1");
  return config;
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

fs::path output_path(const cxxopts::ParseResult& args, const std::string& ckpt_path) {
  const fs::path out = args.count("out") ? fs::path(args["out"].as<std::string>())
                                         : fs::path(ckpt_path).parent_path() / "samples.png";
  std::error_code ec;
  const fs::path parent = out.has_parent_path() ? out.parent_path() : fs::path(".");
  if (!fs::is_directory(parent, ec) || access(parent.c_str(), W_OK) != 0) {
    throw Error("--out " + out.string() + ": folder " + parent.string() +
                " does not exist or is not writable");
  }
  return out;
}

// The status line: images done (fractional), step within the batch, images/s; off a terminal
// every tenth of the work.
std::function<void(int64_t, int64_t, int64_t, int64_t)> sampling_progress(ProgressLine& progress,
                                                                          int64_t batch,
                                                                          Stopwatch watch) {
  auto last_percent = std::make_shared<int64_t>(-1);
  return [&progress, batch, watch, last_percent](int64_t done_images, int64_t total, int64_t step,
                                                 int64_t steps) {
    const double seconds = watch.seconds();
    const double images =
        done_images + static_cast<double>(std::min(batch, total - done_images)) * step / steps;
    const int64_t percent = static_cast<int64_t>(100.0 * images / total);
    if (!progress.terminal() && percent / 10 == *last_percent / 10 && step != steps) return;
    *last_percent = percent;
    std::ostringstream line;
    line << "sampling " << std::fixed << std::setprecision(1) << images << "/" << total
         << " images | step " << step << "/" << steps << " | " << images / std::max(seconds, 1e-9)
         << " img/s";
    progress.update(line.str());
  };
}

PngText png_text(const std::string& ckpt_path, const CheckpointMeta& meta, Weights weights,
                 const GenerateOptions& g) {
  return {{"ddpm:checkpoint", ckpt_path},
          {"ddpm:step", std::to_string(meta.step)},
          {"ddpm:weights", weights_part(weights)},
          {"ddpm:sampler", choice_name(g.sampler.sampler)},
          {"ddpm:steps", std::to_string(sampler_steps(g.sampler, meta.config.diffusion.timesteps))},
          {"ddpm:eta", std::to_string(g.sampler.eta)},
          {"ddpm:seed", std::to_string(g.seed)},
          {"ddpm:guidance", std::to_string(g.guidance)},
          {"ddpm:guidance_interval", nlohmann::json(g.guidance_interval).dump()},
          {"ddpm:class", g.per_class > 0      ? (grid_columns(g) == g.per_class
                                                     ? "one row per class"
                                                     : "whole classes per row, in class order")
                         : g.class_label >= 0 ? std::to_string(g.class_label)
                                              : "none"}};
}

void write_individual(const fs::path& dir, const torch::Tensor& images, const PngText& text) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error("--individual " + dir.string() + ": cannot create (" + ec.message() + ")");
  for (int64_t i = 0; i < images.size(0); ++i) {
    std::ostringstream name;
    name << "sample_" << std::setw(5) << std::setfill('0') << i << ".png";
    auto item = text;
    item.emplace_back("ddpm:index", std::to_string(i));
    write_png((dir / name.str()).string(), tensor_to_image(images[i]), item);
  }
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
  const int64_t nrow =
      args.count("nrow") ? flag_in_range<int64_t>(args, "nrow", 1, g.n) : grid_columns(g);
  check_grid_size(g.n, nrow, config.model.image_size);
  const Weights weights = args.count("raw") ? Weights::raw : Weights::ema;
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
