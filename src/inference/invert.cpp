#include "ddpm/inference/invert.h"

#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cmath>

#include "ddpm/base/error.h"
#include "ddpm/sampling/editing.h"

namespace ddpm {

torch::Tensor invert(UNet& model, const GaussianDiffusion& diffusion,
                     const GenerateOptions& options, const torch::Tensor& images, int64_t refine) {
  if (options.sampler.sampler != Sampler::ddim || options.sampler.eta != 0.0) {
    throw Error("inversion runs DDIM with eta = 0 (the deterministic sampler it inverts)");
  }
  const torch::Device device = model->parameters().front().device();
  const bool was_training = model->is_training();
  model->eval();
  c10::InferenceMode inference;
  const SamplingPlan plan = make_plan(diffusion, options.sampler);
  std::vector<torch::Tensor> latents;
  const int64_t n = images.size(0);
  for (int64_t start = 0; start < n; start += options.batch) {
    const int64_t B = std::min(options.batch, n - start);
    const Denoiser denoiser = image_denoiser(model, options, start, B, {}, device);
    auto x0 = images.slice(0, start, start + B).to(device, torch::kFloat32);
    latents.push_back(invert_ddim(diffusion, denoiser, plan, x0, refine));
    if (options.progress) options.progress(start + B, n, 1, 1);
  }
  if (was_training) model->train();
  return torch::cat(latents);
}

std::vector<double> psnr(const torch::Tensor& a, const torch::Tensor& b) {
  auto mse = (a.to(torch::kFloat64) - b.to(torch::kFloat64)).pow(2).flatten(1).mean(1).cpu();
  std::vector<double> db;
  for (int64_t i = 0; i < mse.size(0); ++i) {
    db.push_back(10.0 * std::log10(4.0 / std::max(mse[i].item<double>(), 1e-20)));
  }
  return db;
}

}  // namespace ddpm
