#include "ddpm/inference/generate.h"

#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cmath>

#include "ddpm/base/compat.h"
#include "ddpm/base/error.h"
#include "ddpm/sampling/editing.h"
#include "ddpm/sampling/guidance.h"

namespace ddpm {

void draw_per_class(GenerateOptions& options, int64_t per_class, int64_t classes) {
  options.per_class = per_class;
  options.n = per_class * classes;
}

int64_t grid_columns(const GenerateOptions& options) {
  if (options.per_class > 0) {
    // One class per row while that keeps the grid at most four times as tall as it is wide; past
    // that (one or two images of each of many classes) whole classes share a row, in an about
    // square grid, instead of a strip.
    const int64_t classes = options.n / options.per_class;
    if (classes <= 4 * options.per_class) return options.per_class;
    const double ratio = static_cast<double>(classes) / static_cast<double>(options.per_class);
    return options.per_class * std::max<int64_t>(1, std::llround(std::sqrt(ratio)));
  }
  return static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(options.n))));
}

namespace {

void check_request(const ModelConfig& mc, const GenerateOptions& options) {
  if (options.guidance > 0 && mc.num_classes == 0) {
    throw Error("guidance needs a class-conditional model (this one has model.num_classes = 0)");
  }
  if (options.per_class > 0 &&
      (mc.num_classes == 0 || options.n != options.per_class * mc.num_classes)) {
    throw Error("per-class sampling needs a class-conditional model and n = per_class × classes");
  }
  if (options.class_label >= mc.num_classes && options.class_label >= 0) {
    throw Error("class " + std::to_string(options.class_label) + " does not exist (the model has " +
                std::to_string(mc.num_classes) + " classes)");
  }
  if (!valid_guidance_interval(options.guidance_interval)) {
    throw Error(
        "the guidance interval must be [sigma_min, sigma_max] with 0 <= sigma_min < "
        "sigma_max");
  }
}

}  // namespace

Denoiser image_denoiser(UNet& model, const GenerateOptions& options, int64_t start, int64_t B,
                        const torch::Tensor& guided, torch::Device device) {
  if (model->config().num_classes == 0) {
    return [&model, &options, device](const torch::Tensor& x, const torch::Tensor& t) {
      compat::AutocastScope autocast(device, options.bf16);
      return model->forward(x, t).to(torch::kFloat32);
    };
  }
  const bool conditional = options.class_label >= 0 || options.per_class > 0;
  std::vector<int64_t> per_image(
      B, options.class_label >= 0 ? options.class_label : model->null_class());
  for (int64_t i = 0; i < B && options.per_class > 0; ++i)
    per_image[i] = (start + i) / options.per_class;
  auto labels = torch::tensor(per_image, torch::kLong).to(device);
  return classifier_free_guidance(
      [&model, &options, device](const torch::Tensor& x, const torch::Tensor& t,
                                 const torch::Tensor& y) {
        compat::AutocastScope autocast(device, options.bf16);
        return model->forward(x, t, y).to(torch::kFloat32);
      },
      labels, model->null_class(), conditional ? options.guidance : 0.0, guided);
}

namespace {

void check_editing(const ModelConfig& mc, const GenerateOptions& options) {
  const std::vector<int64_t> shape{options.n, mc.in_channels, mc.image_size, mc.image_size};
  if (options.init.defined() && options.init.sizes() != shape) {
    throw Error("the images to edit must be [n, C, H, W] as the model draws them");
  }
  if (options.latents.defined() && options.latents.sizes() != shape) {
    throw Error("the latents must be [n, C, H, W] as the model draws them");
  }
  if (options.keep.defined() &&
      (!options.init.defined() ||
       options.keep.sizes() != std::vector<int64_t>{options.n, 1, mc.image_size, mc.image_size})) {
    throw Error("a mask needs its images, and the model's size");
  }
  if (!valid_strength(options.strength)) {
    throw Error("strength " + std::to_string(options.strength) + ": must be in (0, 1]");
  }
}

// Images [start, start + B) of what `options` draw: the plan (from the strength's timestep when
// editing), the start (a noised input or given latents) and the known region.
torch::Tensor draw_batch(UNet& model, const GaussianDiffusion& diffusion,
                         const GenerateOptions& options, int64_t start, int64_t B,
                         const torch::Tensor& guided) {
  const auto& mc = model->config();
  const torch::Device device = model->parameters().front().device();
  std::vector<uint64_t> seeds;
  for (int64_t i = 0; i < B; ++i) seeds.push_back(options.seed + static_cast<uint64_t>(start + i));
  NoiseStream noise(seeds, {mc.in_channels, mc.image_size, mc.image_size}, device);
  Denoiser denoiser = image_denoiser(model, options, start, B, guided, device);
  SamplerOptions sampler = options.sampler;
  if (options.progress) {
    sampler.progress = [&, start](int64_t done, int64_t total) {
      options.progress(start, options.n, done, total);
    };
  }
  SamplingPlan plan = make_plan(diffusion, sampler);
  torch::Tensor init, keep;
  if (options.init.defined()) init = options.init.slice(0, start, start + B).to(device);
  if (options.keep.defined()) {
    keep = options.keep.slice(0, start, start + B).to(device);
    denoiser = keep_known(diffusion, std::move(denoiser), init, keep);
  }
  if (options.latents.defined()) {
    sampler.start = options.latents.slice(0, start, start + B).to(device);
  } else if (init.defined() && options.strength < 1.0) {
    plan = plan_from(plan, strength_timestep(diffusion.timesteps(), options.strength));
    sampler.start = diffusion.q_sample(init, timestep_batch(plan.timesteps[0], init), noise.next());
  }
  auto x = sampler_function(sampler.sampler)(diffusion, denoiser, plan, noise, sampler);
  if (keep.defined()) x = torch::where(keep, init, x);
  return x.clamp(-1.0, 1.0);
}

}  // namespace

torch::Tensor generate(UNet& model, const GaussianDiffusion& diffusion,
                       const GenerateOptions& options) {
  const auto& mc = model->config();
  check_request(mc, options);
  check_editing(mc, options);
  const bool was_training = model->is_training();
  model->eval();
  c10::InferenceMode inference;
  torch::Tensor guided;
  if (!options.guidance_interval.empty()) {
    guided =
        guidance_timesteps(diffusion, options.guidance_interval[0], options.guidance_interval[1]);
  }
  std::vector<torch::Tensor> results;
  for (int64_t start = 0; start < options.n; start += options.batch) {
    const int64_t B = std::min(options.batch, options.n - start);
    results.push_back(draw_batch(model, diffusion, options, start, B, guided));
  }
  if (was_training) model->train();
  return torch::cat(results);
}

}  // namespace ddpm
