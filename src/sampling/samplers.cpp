#include "ddpm/sampling/samplers.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>

#include "ddpm/base/error.h"

namespace ddpm {

NoiseStream::NoiseStream(const std::vector<uint64_t>& seeds, std::vector<int64_t> image_shape,
                         torch::Device device)
    : shape_(std::move(image_shape)), device_(device) {
  for (uint64_t seed : seeds) generators_.push_back(at::make_generator<at::CPUGeneratorImpl>(seed));
}

torch::Tensor NoiseStream::next() {
  std::vector<torch::Tensor> draws;
  draws.reserve(generators_.size());
  for (auto& g : generators_) draws.push_back(torch::randn(shape_, g, torch::kFloat32));
  return torch::stack(draws).to(device_, /*non_blocking=*/true);  // [B, C, H, W]
}

torch::Tensor sample_ddpm(const GaussianDiffusion& diffusion, const Denoiser& denoiser,
                          NoiseStream& noise, bool clip_denoised, const Progress& progress) {
  const int64_t T = diffusion.timesteps();
  auto x = noise.next();  // x_T ~ N(0, I)
  for (int64_t t = T - 1; t >= 0; --t) {
    x = ancestral_step(diffusion, denoiser, x, t, noise, clip_denoised);
    if (progress) progress(T - t, T);
  }
  return x;
}

torch::Tensor ancestral_step(const GaussianDiffusion& diffusion, const Denoiser& denoiser,
                             const torch::Tensor& x, int64_t t, NoiseStream& noise,
                             bool clip_denoised) {
  auto tt = timestep_batch(t, x);
  auto p = diffusion.p_mean_variance(denoiser(x, tt), x, tt, clip_denoised);
  return t > 0 ? p.mean + torch::exp(0.5 * p.log_variance) * noise.next() : p.mean;
}

namespace {
void require_steps_in_range(int64_t T, int64_t steps) {
  if (steps < 1 || steps > T) {
    throw Error("sampler steps = " + std::to_string(steps) + ": must be in [1, " +
                std::to_string(T) + "] (the diffusion's timesteps)");
  }
}
}  // namespace

std::vector<int64_t> ddim_timesteps(int64_t T, int64_t steps, Spacing spacing) {
  require_steps_in_range(T, steps);
  std::vector<int64_t> ts;
  for (int64_t i = 0; i < steps; ++i) {
    double frac = steps == 1 ? 1.0 : static_cast<double>(i) / static_cast<double>(steps - 1);
    double t = spacing == Spacing::quadratic ? frac * frac * (T - 1) : frac * (T - 1);
    ts.push_back(static_cast<int64_t>(std::llround(t)));
  }
  if (spacing != Spacing::uniform && spacing != Spacing::quadratic) {
    throw Error(std::string("timestep spacing \"") + choice_name(spacing) +
                "\": expected uniform or quadratic");
  }
  ts.erase(std::unique(ts.begin(), ts.end()), ts.end());
  return ts;
}

std::vector<int64_t> sampler_timesteps(const GaussianDiffusion& diffusion, int64_t steps,
                                       Spacing spacing) {
  const int64_t T = diffusion.timesteps();
  const int64_t top = deterministic_start(diffusion);
  require_steps_in_range(T, steps);
  if (spacing != Spacing::logsnr) return ddim_timesteps(top + 1, std::min(steps, top + 1), spacing);
  // Evenly spaced in λ = log(α/σ) between λ(top) and λ(0), each snapped to the nearest timestep.
  auto ab = diffusion.table64().alphas_cumprod;
  auto lambda = 0.5 * (torch::log(ab) - torch::log1p(-ab));  // [T], decreasing in t
  const double hi = lambda[0].item<double>(), lo = lambda[top].item<double>();
  std::vector<int64_t> ts;
  for (int64_t i = 0; i < steps; ++i) {
    const double target = steps == 1 ? lo : hi + (lo - hi) * static_cast<double>(i) / (steps - 1);
    ts.push_back((lambda - target).abs().argmin().item<int64_t>());
  }
  std::sort(ts.begin(), ts.end());
  ts.erase(std::unique(ts.begin(), ts.end()), ts.end());
  return ts;
}

int64_t deterministic_start(const GaussianDiffusion& diffusion) {
  // σ_t = √((1 − ᾱ_t)/ᾱ_t) ≤ 80, EDM's σ_max (Karras et al. 2022, Table 1), i.e. λ_t ≥ −ln 80. The
  // cosine schedule's clipped tail (β = 0.999) reaches σ = 3·10⁴ over its last ~5 steps, and every
  // ε error there reaches x̂_0 multiplied by σ. Treating x_T ~ N(0, I) as a draw at σ = 80 costs a
  // prior mismatch of KL ≤ ᾱ·E[x_0²]/2 ≈ 8·10⁻⁵ nats per pixel.
  constexpr double sigma_max = 80.0;
  const auto& ab = diffusion.table64().alphas_cumprod;
  int64_t t = diffusion.timesteps() - 1;
  while (t > 0) {
    const double a = ab[t].item<double>();
    if ((1.0 - a) / a <= sigma_max * sigma_max) break;
    --t;
  }
  return t;
}

torch::Tensor sample_ddim(const GaussianDiffusion& diffusion, const Denoiser& denoiser,
                          NoiseStream& noise, int64_t steps, double eta, Spacing spacing,
                          bool clip_denoised, const Progress& progress) {
  const auto ts = sampler_timesteps(diffusion, steps,
                                    spacing == Spacing::automatic ? Spacing::uniform : spacing);
  const auto& ab = diffusion.table64().alphas_cumprod;
  auto x = noise.next();
  const int64_t n = static_cast<int64_t>(ts.size());
  for (int64_t i = n - 1; i >= 0; --i) {
    const int64_t t = ts[i];
    const double a_t = ab[t].item<double>();
    const double a_prev = i > 0 ? ab[ts[i - 1]].item<double>() : 1.0;
    auto tt = timestep_batch(t, x);
    // x̂0 and ε̂ each in the form the objective keeps bounded; a clipped x̂0 gets the ε̂ that is
    // consistent with it, so that x_t = √ᾱ_t x̂0 + √(1 − ᾱ_t) ε̂ still holds (measured: keeping the
    // model's ε̂ instead drew one template for 79% of samples on the trained-template test).
    auto den = diffusion.denoise(denoiser(x, tt), x, tt);
    auto x0 = den.x0, eps = den.eps;
    if (clip_denoised) {
      x0 = x0.clamp(-1.0, 1.0);
      eps = (x - std::sqrt(a_t) * x0) / std::sqrt(1.0 - a_t);
    }
    // σ_t(η) = η √((1 − ᾱ_prev)/(1 − ᾱ_t)) √(1 − ᾱ_t/ᾱ_prev)   (Song et al. 2021, eq. 16)
    const double sigma = eta * std::sqrt((1.0 - a_prev) / (1.0 - a_t)) *
                         std::sqrt(std::max(0.0, 1.0 - a_t / a_prev));
    x = std::sqrt(a_prev) * x0 + std::sqrt(std::max(0.0, 1.0 - a_prev - sigma * sigma)) * eps;
    if (sigma > 0 && i > 0) x = x + sigma * noise.next();
    if (progress) progress(n - i, n);
  }
  return x;
}

torch::Tensor sample_dpmpp_2m(const GaussianDiffusion& diffusion, const Denoiser& denoiser,
                              NoiseStream& noise, int64_t steps, Spacing spacing,
                              bool clip_denoised, const Progress& progress) {
  const auto ts = sampler_timesteps(diffusion, steps,
                                    spacing == Spacing::automatic ? Spacing::logsnr : spacing);
  const auto& ab = diffusion.table64().alphas_cumprod;
  // α_t = √ᾱ_t, σ_t = √(1 − ᾱ_t), λ_t = log(α_t/σ_t): the half log-SNR the solver steps in.
  auto alpha = [&](int64_t t) { return std::sqrt(ab[t].item<double>()); };
  auto sigma = [&](int64_t t) { return std::sqrt(1.0 - ab[t].item<double>()); };
  auto lambda = [&](int64_t t) { return std::log(alpha(t) / sigma(t)); };
  auto x = noise.next();
  const int64_t n = static_cast<int64_t>(ts.size());
  torch::Tensor previous_x0;  // x̂_0 at the step before, for the second-order correction
  double previous_h = 0.0;
  for (int64_t i = n - 1; i >= 0; --i) {
    const int64_t t = ts[i];
    auto tt = timestep_batch(t, x);
    auto x0 = diffusion.denoise(denoiser(x, tt), x, tt).x0;
    if (clip_denoised) x0 = x0.clamp(-1.0, 1.0);
    if (i == 0) {
      x = x0;  // the last step lands on the data (σ = 0), where only the first-order update is
               // finite
    } else {
      const int64_t s = ts[i - 1];
      const double h = lambda(s) - lambda(t);
      // D = (1 + 1/(2r)) x̂_0(t) − 1/(2r) x̂_0(t_prev), r = h_prev/h  (Lu et al. 2022b, Algorithm 2)
      auto d = x0;
      if (previous_x0.defined()) {
        const double r = previous_h / h;
        d = (1.0 + 0.5 / r) * x0 - (0.5 / r) * previous_x0;
      }
      x = (sigma(s) / sigma(t)) * x - alpha(s) * std::expm1(-h) * d;
      previous_x0 = x0;
      previous_h = h;
    }
    if (progress) progress(n - i, n);
  }
  return x;
}

SamplerOptions sampler_options(const SampleConfig& sample) {
  SamplerOptions options;
  options.sampler = sample.sampler;
  options.steps = sample.steps;
  options.eta = sample.eta;
  options.churn = sample.churn;
  options.clip_denoised = sample.clip_denoised;
  return options;
}

int64_t sampler_steps(const SamplerOptions& options, int64_t timesteps) {
  if (options.sampler == Sampler::ddpm) return timesteps;
  if (options.sampler == Sampler::heun) return 2 * heun_levels(options, timesteps) - 1;
  if (options.steps > 0) return options.steps;
  return std::min<int64_t>(options.sampler == Sampler::ddim ? 50 : 20, timesteps);
}

int64_t heun_levels(const SamplerOptions& options, int64_t timesteps) {
  return options.steps > 0 ? options.steps : std::min<int64_t>(18, timesteps);
}

torch::Tensor run_sampler(const GaussianDiffusion& diffusion, const Denoiser& denoiser,
                          NoiseStream& noise, const SamplerOptions& options) {
  const int64_t steps = sampler_steps(options, diffusion.timesteps());
  switch (options.sampler) {
    case Sampler::ddpm:
      return sample_ddpm(diffusion, denoiser, noise, options.clip_denoised, options.progress);
    case Sampler::ddim:
      return sample_ddim(diffusion, denoiser, noise, steps, options.eta, options.spacing,
                         options.clip_denoised, options.progress);
    case Sampler::heun:
      return sample_heun(diffusion, denoiser, noise, heun_levels(options, diffusion.timesteps()),
                         options.churn, options.clip_denoised, options.progress);
    case Sampler::dpmpp2m:
      break;
  }
  return sample_dpmpp_2m(diffusion, denoiser, noise, steps, options.spacing, options.clip_denoised,
                         options.progress);
}

Denoiser classifier_free_guidance(ConditionalDenoiser model, torch::Tensor labels,
                                  int64_t null_class, double guidance, torch::Tensor guided) {
  // The per-timestep mask is looked up on the CPU (t is a handful of integers), wherever the
  // model runs: no device synchronisation for the test below, and no device mismatch.
  if (guided.defined()) guided = guided.to(torch::kCPU);
  return [model = std::move(model), labels = std::move(labels), null_class, guidance,
          guided = std::move(guided)](const torch::Tensor& x, const torch::Tensor& t) {
    if (guidance == 0.0) return model(x, t, labels);
    torch::Tensor here;  // which images of the batch are guided at their t
    if (guided.defined()) {
      const auto mask = guided.index_select(0, t.to(torch::kCPU, torch::kLong));
      if (!mask.any().item<bool>()) return model(x, t, labels);
      here = mask.to(x.device());
    }
    const int64_t B = x.size(0);
    auto both = model(torch::cat({x, x}), torch::cat({t, t}),
                      torch::cat({labels, torch::full_like(labels, null_class)}));  // [2B, ...]
    auto cond = both.slice(0, 0, B), uncond = both.slice(0, B);
    auto out = (1.0 + guidance) * cond - guidance * uncond;
    if (!here.defined()) return out;
    return torch::where(here.view({-1, 1, 1, 1}), out, cond);
  };
}

torch::Tensor guidance_timesteps(const GaussianDiffusion& diffusion, double sigma_min,
                                 double sigma_max) {
  const torch::Tensor ab = diffusion.table().alphas_cumprod.to(torch::kDouble);
  const auto sigma = torch::sqrt((1 - ab) / ab);
  return sigma.ge(sigma_min).logical_and(sigma.le(sigma_max));
}

}  // namespace ddpm
