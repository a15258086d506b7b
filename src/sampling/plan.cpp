#include "ddpm/sampling/plan.h"

#include <algorithm>
#include <cmath>

#include "ddpm/base/error.h"

namespace ddpm {
namespace {

std::vector<double> values(const torch::Tensor& table) {
  const auto t = table.to(torch::kCPU, torch::kFloat64).contiguous();
  return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
}

void require_steps_in_range(int64_t T, int64_t steps) {
  if (steps < 1 || steps > T) {
    throw Error("sampler steps = " + std::to_string(steps) + ": must be in [1, " +
                std::to_string(T) + "] (the diffusion's timesteps)");
  }
}

// The timesteps `options` visit, descending.
std::vector<int64_t> visited_timesteps(const GaussianDiffusion& diffusion,
                                       const SamplerOptions& options) {
  const int64_t T = diffusion.timesteps();
  std::vector<int64_t> ts;
  if (options.sampler == Sampler::ddpm) {
    for (int64_t t = T - 1; t >= 0; --t) ts.push_back(t);
    return ts;
  }
  const int64_t steps = resolved_steps(options, T);
  if (options.sampler == Sampler::heun) return karras_timesteps(diffusion, steps, 7.0);
  const Spacing spacing = options.spacing == Spacing::automatic
                              ? sampler_defaults(options.sampler).spacing
                              : options.spacing;
  ts = sampler_timesteps(diffusion, steps, spacing);
  std::reverse(ts.begin(), ts.end());
  return ts;
}

}  // namespace

const SamplerDefaults& sampler_defaults(Sampler sampler) {
  for (const auto& d : kSamplerDefaults) {
    if (d.sampler == sampler) return d;
  }
  throw Error(std::string("no defaults for sampler ") + choice_name(sampler));
}

std::string default_steps_text() {
  std::string text;
  for (const auto& d : kSamplerDefaults) {
    if (d.steps == 0) continue;
    text += (text.empty() ? "" : " / ") + std::to_string(d.steps) + " " + choice_name(d.sampler);
  }
  return text;
}

int64_t resolved_steps(const SamplerOptions& options, int64_t timesteps) {
  if (options.sampler == Sampler::ddpm) return timesteps;
  if (options.steps > 0) return options.steps;
  return std::min<int64_t>(sampler_defaults(options.sampler).steps, timesteps);
}

int64_t sampler_steps(const SamplerOptions& options, int64_t timesteps) {
  const int64_t steps = resolved_steps(options, timesteps);
  return options.sampler == Sampler::heun ? 2 * steps - 1 : steps;
}

SamplingPlan make_plan(const GaussianDiffusion& diffusion, const SamplerOptions& options) {
  const auto& table = diffusion.table64();
  const auto alpha_bar = values(table.alphas_cumprod), sigma = values(table.sigmas),
             lambda = values(table.lambdas);
  SamplingPlan plan;
  plan.timesteps = visited_timesteps(diffusion, options);
  for (int64_t t : plan.timesteps) {
    plan.alpha_bar.push_back(alpha_bar[t]);
    plan.sigma.push_back(sigma[t]);
    plan.lambda.push_back(lambda[t]);
  }
  return plan;
}

int64_t deterministic_start(const GaussianDiffusion& diffusion) {
  // σ_t ≤ 80, EDM's σ_max (Karras et al. 2022, Table 1), i.e. λ_t ≥ −ln 80. The cosine schedule's
  // clipped tail (β = 0.999) reaches σ = 3·10⁴ over its last ~5 steps, and every ε error there
  // reaches x̂_0 multiplied by σ. Treating x_T ~ N(0, I) as a draw at σ = 80 costs a prior mismatch
  // of KL ≤ ᾱ·E[x_0²]/2 ≈ 8·10⁻⁵ nats per pixel.
  constexpr double sigma_max = 80.0;
  const auto alpha_bar = values(diffusion.table64().alphas_cumprod);
  int64_t t = diffusion.timesteps() - 1;
  while (t > 0) {
    const double a = alpha_bar[t];
    if ((1.0 - a) / a <= sigma_max * sigma_max) break;
    --t;
  }
  return t;
}

std::vector<int64_t> ddim_timesteps(int64_t T, int64_t steps, Spacing spacing) {
  require_steps_in_range(T, steps);
  if (spacing != Spacing::uniform && spacing != Spacing::quadratic) {
    throw Error(std::string("timestep spacing \"") + choice_name(spacing) +
                "\": expected uniform or quadratic");
  }
  std::vector<int64_t> ts;
  for (int64_t i = 0; i < steps; ++i) {
    double frac = steps == 1 ? 1.0 : static_cast<double>(i) / static_cast<double>(steps - 1);
    double t = spacing == Spacing::quadratic ? frac * frac * (T - 1) : frac * (T - 1);
    ts.push_back(static_cast<int64_t>(std::llround(t)));
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
  // Evenly spaced in λ between λ(top) and λ(0), each snapped to the nearest timestep.
  const auto lambda = values(diffusion.table64().lambdas);  // decreasing in t
  const double hi = lambda[0], lo = lambda[top];
  std::vector<int64_t> ts;
  for (int64_t i = 0; i < steps; ++i) {
    const double target = steps == 1 ? lo : hi + (lo - hi) * static_cast<double>(i) / (steps - 1);
    int64_t best = 0;
    for (int64_t t = 1; t < T; ++t) {
      if (std::abs(lambda[t] - target) < std::abs(lambda[best] - target)) best = t;
    }
    ts.push_back(best);
  }
  std::sort(ts.begin(), ts.end());
  ts.erase(std::unique(ts.begin(), ts.end()), ts.end());
  return ts;
}

std::vector<double> sigma_table(const GaussianDiffusion& diffusion) {
  return values(diffusion.table64().sigmas);
}

int64_t nearest_timestep(const std::vector<double>& sigmas, int64_t top, double sigma) {
  auto end = sigmas.begin() + top + 1;
  auto it = std::lower_bound(sigmas.begin(), end, sigma);
  if (it == end) return top;
  if (it == sigmas.begin()) return 0;
  const int64_t hi = it - sigmas.begin();
  return std::log(sigma / sigmas[hi - 1]) < std::log(sigmas[hi] / sigma) ? hi - 1 : hi;
}

std::vector<int64_t> karras_timesteps(const GaussianDiffusion& diffusion, int64_t steps,
                                      double rho) {
  const auto sigmas = sigma_table(diffusion);
  const int64_t top = deterministic_start(diffusion);
  const double lo = std::pow(sigmas[0], 1.0 / rho), hi = std::pow(sigmas[top], 1.0 / rho);
  std::vector<int64_t> ts;
  for (int64_t i = 0; i < steps; ++i) {
    const double frac = steps == 1 ? 0.0 : static_cast<double>(i) / static_cast<double>(steps - 1);
    // σ_i = (σ_max^{1/ρ} + i/(N−1) (σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ  (Karras et al. 2022, eq. 5)
    ts.push_back(nearest_timestep(sigmas, top, std::pow(hi + frac * (lo - hi), rho)));
  }
  ts.erase(std::unique(ts.begin(), ts.end()), ts.end());
  return ts;  // descending
}

}  // namespace ddpm
