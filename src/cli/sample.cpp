#include <cctype>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "ddpm/checkpoint.h"
#include "ddpm/commands.h"
#include "ddpm/error.h"
#include "ddpm/generate.h"
#include "ddpm/image_io.h"

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
  throw Error("--class " + value + ": no such class (indices 0.." + std::to_string(classes - 1) +
              (known.empty() ? "" : "; names: " + known + (meta.class_names.size() > 10 ? ", ..." : "")) +
              ")");
}

template <class T>
T positive(const cxxopts::ParseResult& args, const char* key, T minimum) {
  const T value = args[key].as<T>();
  if (value < minimum) {
    std::ostringstream os;
    os << "--" << key << " " << value << ": must be at least " << minimum;
    throw Error(os.str());
  }
  return value;
}

}  // namespace

int command_sample(int argc, char** argv) {
  cxxopts::Options options(argv[0], "Sample images from a checkpoint into a PNG grid.");
  options.add_options()("ckpt", "checkpoint file (e.g. runs/NAME/last.pt)",
                        cxxopts::value<std::string>())(
      "num", "number of images (also --n)", cxxopts::value<int64_t>()->default_value("64"))(
      "out", "output PNG grid (default: samples.png beside the checkpoint)",
      cxxopts::value<std::string>())(
      "nrow", "images per grid row (default: ceil(sqrt(n)))", cxxopts::value<int64_t>())(
      "individual", "also write one PNG per image into this folder", cxxopts::value<std::string>())(
      "sampler", "ddpm (ancestral, all T steps), ddim, dpmpp2m (DPM-Solver++(2M)) or heun (EDM, Karras "
      "et al. 2022); default: the config's", cxxopts::value<std::string>())(
      "steps", "ddim/dpmpp2m: network evaluations; heun: noise levels, 2 steps - 1 evaluations "
      "(default: the config's, or 50 ddim / 20 dpmpp2m / 18 heun)", cxxopts::value<int64_t>())(
      "eta", "ddim: noise scale (0 = deterministic)", cxxopts::value<double>())(
      "churn", "heun: S_churn, fresh noise per step (0 = deterministic)", cxxopts::value<double>())(
      "spacing", "ddim/dpmpp2m timesteps: uniform, quadratic or logsnr (default: ddim uniform, "
      "dpmpp2m logsnr)", cxxopts::value<std::string>()->default_value(""))(
      "seed", "image i starts from noise seeded with seed + i",
      cxxopts::value<uint64_t>()->default_value("0"))(
      "batch", "images per forward pass (memory only: never changes the pictures)",
      cxxopts::value<int64_t>())(
      "class", "class name or index (class-conditional models)", cxxopts::value<std::string>())(
      "per-class", "class-conditional models: K images of every class, one row per class (sets --n "
      "and --nrow)", cxxopts::value<int64_t>())(
      "guidance", "classifier-free guidance weight w", cxxopts::value<double>())(
      "raw", "use the raw training weights instead of the EMA weights")(
      "no-clip", "do not clip the predicted x0 to [-1, 1] during sampling")(
      "bf16", "bf16 autocast of the network (for GPUs; on CPUs without bf16 units it is slower)");
  cxxopts::ParseResult args;
  if (!parse_checkpoint_command(options, argc, argv, args)) return 0;

  const int64_t n = positive<int64_t>(args, "num", 1);
  const std::string ckpt_path = args["ckpt"].as<std::string>();
  Checkpoint ckpt = Checkpoint::open(ckpt_path);
  const CheckpointMeta& meta = ckpt.meta();
  const Config& config = meta.config;

  GenerateOptions g;
  g.n = n;
  g.seed = args["seed"].as<uint64_t>();
  g.bf16 = args.count("bf16") > 0;
  g.batch = args.count("batch") ? positive<int64_t>(args, "batch", 1) : config.sample.batch;
  g.sampler = sampler_options(config.sample);  // the config's, then the flags given
  if (args.count("sampler")) g.sampler.sampler = args["sampler"].as<std::string>();
  check_sampler_name(g.sampler.sampler, "--sampler");
  if (args.count("steps")) g.sampler.steps = positive<int64_t>(args, "steps", 1);
  if (g.sampler.sampler != "ddpm" && g.sampler.steps > config.diffusion.timesteps) {
    throw Error("--steps " + std::to_string(g.sampler.steps) + ": at most " +
                std::to_string(config.diffusion.timesteps) + " (the model's diffusion timesteps)");
  }
  if (args.count("eta")) g.sampler.eta = args["eta"].as<double>();
  if (g.sampler.eta < 0) throw Error("--eta must be non-negative");
  if (args.count("churn")) g.sampler.churn = args["churn"].as<double>();
  if (!(g.sampler.churn >= 0) || g.sampler.churn > 1000) {
    throw Error("--churn must be in [0, 1000]");
  }
  g.sampler.spacing = args["spacing"].as<std::string>();
  if (args.count("no-clip")) g.sampler.clip_denoised = false;
  g.guidance = args.count("guidance") ? args["guidance"].as<double>() : config.sample.guidance;
  if (args.count("guidance") && config.model.num_classes == 0) {
    throw Error("--guidance needs a class-conditional model (this checkpoint has model.num_classes = 0)");
  }
  if (g.guidance < 0) throw Error("--guidance must be non-negative");
  if (args.count("class")) g.class_label = resolve_class(args["class"].as<std::string>(), meta);
  if (args.count("per-class")) {
    if (config.model.num_classes == 0) {
      throw Error("--per-class needs a class-conditional model (this checkpoint has model.num_classes = 0)");
    }
    if (args.count("class")) throw Error("--per-class and --class exclude each other");
    g.per_class = positive<int64_t>(args, "per-class", 1);
    if (g.per_class > 1000) throw Error("--per-class " + std::to_string(g.per_class) + ": at most 1000");
    g.n = g.per_class * config.model.num_classes;
  }
  const std::string weights = args.count("raw") ? "model" : "ema";

  const fs::path out = args.count("out") ? fs::path(args["out"].as<std::string>())
                                         : fs::path(ckpt_path).parent_path() / "samples.png";
  {
    std::error_code ec;
    const fs::path parent = out.has_parent_path() ? out.parent_path() : fs::path(".");
    if (!fs::is_directory(parent, ec) || access(parent.c_str(), W_OK) != 0) {
      throw Error("--out " + out.string() + ": folder " + parent.string() +
                  " does not exist or is not writable");
    }
  }

  const torch::Device device = runtime_from_args(args);
  UNet model(config.model);
  model->to(device);
  ckpt.load_module(weights, *model, device);
  GaussianDiffusion diffusion(config.diffusion);
  diffusion.to(device);

  const auto start = std::chrono::steady_clock::now();
  const bool tty = isatty(STDERR_FILENO);
  int64_t last_percent = -1;
  g.progress = [&](int64_t done_images, int64_t total, int64_t step, int64_t steps) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const int64_t batch = std::min(g.batch, total - done_images);
    const double images = done_images + static_cast<double>(batch) * step / steps;
    const int64_t percent = static_cast<int64_t>(100.0 * images / total);
    if (!tty && percent / 10 == last_percent / 10 && step != steps) return;
    last_percent = percent;
    std::cerr << (tty ? "\r" : "") << "sampling " << std::fixed << std::setprecision(1) << images
              << "/" << total << " images | step " << step << "/" << steps << " | "
              << images / std::max(seconds, 1e-9) << " img/s" << (tty ? "\033[K" : "\n")
              << std::flush;
  };
  auto images = generate(model, diffusion, g);  // [n, C, H, W]
  if (tty) std::cerr << "\n";

  const int64_t nrow = args.count("nrow") ? positive<int64_t>(args, "nrow", 1) : grid_columns(g);
  PngText text = {{"ddpm:checkpoint", ckpt_path},
                  {"ddpm:step", std::to_string(meta.step)},
                  {"ddpm:weights", weights},
                  {"ddpm:sampler", g.sampler.sampler},
                  {"ddpm:steps", std::to_string(sampler_steps(g.sampler, config.diffusion.timesteps))},
                  {"ddpm:eta", std::to_string(g.sampler.eta)},
                  {"ddpm:seed", std::to_string(g.seed)},
                  {"ddpm:guidance", std::to_string(g.guidance)},
                  {"ddpm:class", g.per_class > 0      ? "one row per class"
                                 : g.class_label >= 0 ? std::to_string(g.class_label)
                                                      : "none"}};
  write_png(out.string(), make_grid(images, nrow), text);
  if (args.count("individual")) {
    const fs::path dir = args["individual"].as<std::string>();
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw Error("--individual " + dir.string() + ": cannot create (" + ec.message() + ")");
    for (int64_t i = 0; i < g.n; ++i) {
      std::ostringstream name;
      name << "sample_" << std::setw(5) << std::setfill('0') << i << ".png";
      auto item = text;
      item.emplace_back("ddpm:index", std::to_string(i));
      write_png((dir / name.str()).string(), tensor_to_image(images[i]), item);
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "wrote " << out.string() << " (" << g.n << " images, step " << meta.step << ", "
            << g.sampler.sampler << ", " << std::fixed << std::setprecision(1) << seconds << " s)\n";
  return 0;
}

}  // namespace ddpm
