#include "ddpm/sampling/samplers.h"

namespace ddpm {

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
