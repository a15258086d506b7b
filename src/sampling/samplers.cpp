#include "ddpm/sampling/samplers.h"

#include <cmath>

#include "ddpm/sampling/editing.h"

namespace ddpm {

void walk_plan(int64_t n, const SamplerOptions& options, const std::function<void(int64_t)>& down,
               const std::function<void(int64_t)>& up) {
  const auto path = repaint_path(n, options.resample_length, options.resample_jumps);
  const int64_t moves = static_cast<int64_t>(path.size()) - 1;
  for (int64_t k = 0; k < moves; ++k) {
    if (path[k + 1] > path[k]) {
      down(path[k]);
    } else {
      up(path[k + 1]);
    }
    if (options.progress) options.progress(k + 1, moves);
  }
}

torch::Tensor renoise(const SamplingPlan& plan, const torch::Tensor& x, int64_t i,
                      NoiseStream& noise) {
  const double ratio = plan.alpha_bar[i] / plan.alpha_bar[i + 1];
  return std::sqrt(ratio) * x + std::sqrt(1.0 - ratio) * noise.next();
}

torch::Tensor start_state(NoiseStream& noise, const SamplerOptions& options) {
  return options.start.defined() ? options.start : noise.next();
}

SamplerFn sampler_function(Sampler sampler) {
  switch (sampler) {
    case Sampler::ddpm:
      return sample_ddpm;
    case Sampler::ddim:
      return sample_ddim;
    case Sampler::heun:
      return sample_heun;
    case Sampler::dpmpp2m:
      break;
  }
  return sample_dpmpp_2m;
}

torch::Tensor run_sampler(const GaussianDiffusion& diffusion, const Denoiser& denoiser,
                          NoiseStream& noise, const SamplerOptions& options) {
  const SamplingPlan plan = make_plan(diffusion, options);
  return sampler_function(options.sampler)(diffusion, denoiser, plan, noise, options);
}

SamplerOptions sampler_options(const SampleConfig& sample) {
  SamplerOptions options;
  options.sampler = sample.sampler;
  options.steps = sample.steps;
  options.spacing = sample.spacing;
  options.eta = sample.eta;
  options.churn = sample.churn;
  options.clip_denoised = sample.clip_denoised;
  return options;
}

}  // namespace ddpm
