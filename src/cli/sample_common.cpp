#include "ddpm/cli/sample_common.h"

#include <unistd.h>

#include <cctype>
#include <cmath>
#include <iomanip>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ddpm/base/error.h"
#include "ddpm/cli/commands.h"
#include "ddpm/sampling/editing.h"

namespace ddpm {
namespace fs = std::filesystem;

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

void use_ddim(const cxxopts::ParseResult& args, const Config& config, GenerateOptions& g,
              const std::string& mode) {
  if (args.count("sampler") && config.sample.sampler != Sampler::ddim) {
    throw Error(mode +
                " runs DDIM (the sampler DDIM inversion inverts); drop --sampler or give "
                "--sampler ddim");
  }
  if (args.count("eta") && config.sample.eta != 0.0) {
    throw Error(mode + " runs DDIM with eta = 0 (deterministic); drop --eta");
  }
  if (!args.count("steps") && config.sample.sampler != Sampler::ddim) g.sampler.steps = 0;
  g.sampler.sampler = Sampler::ddim;
  g.sampler.eta = 0.0;
  if (!args.count("guidance")) {
    g.guidance = 0.0;
    g.guidance_interval.clear();
  }
}

int64_t pair_grid_columns(int64_t n) {
  return 2 * static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(n))));
}

Image pairs_grid(const torch::Tensor& left, const torch::Tensor& right) {
  auto pairs = torch::stack({left, right.to(left.device())}, 1).flatten(0, 1);
  return make_grid(pairs, pair_grid_columns(left.size(0)));
}

int64_t refine_flag(const cxxopts::ParseResult& args) {
  return args.count("refine") ? flag_in_range<int64_t>(args, "refine", 0, 20)
                              : kDefaultInversionRefine;
}

fs::path output_path(const cxxopts::ParseResult& args, const std::string& ckpt_path,
                     const std::string& default_name) {
  const fs::path out = args.count("out") ? fs::path(args["out"].as<std::string>())
                                         : fs::path(ckpt_path).parent_path() / default_name;
  std::error_code ec;
  const fs::path parent = out.has_parent_path() ? out.parent_path() : fs::path(".");
  if (!fs::is_directory(parent, ec) || access(parent.c_str(), W_OK) != 0) {
    throw Error("--out " + out.string() + ": folder " + parent.string() +
                " does not exist or is not writable");
  }
  return out;
}

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

void write_individual(const fs::path& dir, const torch::Tensor& images, const PngText& text,
                      const std::vector<std::string>& names) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error("--individual " + dir.string() + ": cannot create (" + ec.message() + ")");
  for (int64_t i = 0; i < images.size(0); ++i) {
    std::ostringstream name;
    if (names.empty()) {
      name << "sample_" << std::setw(5) << std::setfill('0') << i << ".png";
    } else {
      name << names[static_cast<size_t>(i)] << ".png";
    }
    auto item = text;
    item.emplace_back("ddpm:index", std::to_string(i));
    write_png((dir / name.str()).string(), tensor_to_image(images[i]), item);
  }
}

}  // namespace ddpm
