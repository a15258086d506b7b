#include "ddpm/sampling/editing.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "ddpm/base/error.h"

namespace ddpm {

int64_t strength_timestep(int64_t timesteps, double strength) {
  if (!valid_strength(strength)) {
    throw Error("strength " + std::to_string(strength) + ": must be in (0, 1]");
  }
  return static_cast<int64_t>(std::llround(strength * static_cast<double>(timesteps - 1)));
}

SamplingPlan plan_from(const SamplingPlan& plan, int64_t t_start) {
  SamplingPlan rest;
  for (int64_t i = 0; i < plan.size(); ++i) {
    if (plan.timesteps[i] > t_start) continue;
    rest.timesteps.push_back(plan.timesteps[i]);
    rest.alpha_bar.push_back(plan.alpha_bar[i]);
    rest.sigma.push_back(plan.sigma[i]);
    rest.lambda.push_back(plan.lambda[i]);
  }
  return rest;
}

Denoiser keep_known(const GaussianDiffusion& diffusion, Denoiser denoiser, torch::Tensor known,
                    torch::Tensor keep) {
  return [&diffusion, denoiser = std::move(denoiser), known = std::move(known),
          keep = std::move(keep)](const torch::Tensor& x, const torch::Tensor& t) {
    auto den = diffusion.denoise(denoiser(x, t), x, t);
    auto x0 = torch::where(keep, known, den.x0);
    auto eps = torch::where(keep, diffusion.eps_from_x0(x, t, known), den.eps);
    return diffusion.training_target(x0, eps, t);
  };
}

std::vector<int64_t> repaint_path(int64_t n, int64_t length, int64_t jumps) {
  if (length < 1 || jumps < 1) throw Error("RePaint needs a jump length and count of at least 1");
  std::vector<int64_t> path{0};
  std::map<int64_t, int64_t> left;  // jumps still to make from each state
  int64_t state = 0;
  while (state < n) {
    path.push_back(++state);
    if (state == n || state % length != 0 || state < length) continue;
    auto it = left.emplace(state, jumps - 1).first;
    if (it->second == 0) continue;
    --it->second;
    for (int64_t k = 0; k < length; ++k) path.push_back(--state);
  }
  return path;
}

const ResampleDefaults& inpainting_resampling(Sampler sampler) {
  for (const auto& d : kInpaintingResampling) {
    if (d.sampler == sampler) return d;
  }
  throw Error(std::string("no resampling defaults for sampler ") + choice_name(sampler));
}

torch::Tensor invert_ddim(const GaussianDiffusion& diffusion, const Denoiser& denoiser,
                          const SamplingPlan& plan, const torch::Tensor& x0, int64_t refine) {
  auto x = x0;
  for (int64_t i = plan.size() - 1; i >= 0; --i) {
    const double a_cur = i + 1 == plan.size() ? 1.0 : plan.alpha_bar[i + 1];
    const double a_next = plan.alpha_bar[i];
    auto tt = timestep_batch(plan.timesteps[i], x);
    auto guess = x;
    for (int64_t k = 0; k <= refine; ++k) {
      auto eps = diffusion.predict_eps(denoiser(guess, tt), guess, tt);
      auto x0_hat = (x - std::sqrt(1.0 - a_cur) * eps) / std::sqrt(a_cur);
      guess = std::sqrt(a_next) * x0_hat + std::sqrt(1.0 - a_next) * eps;
    }
    x = guess;
  }
  return x;
}

torch::Tensor slerp(const torch::Tensor& a, const torch::Tensor& b, double w) {
  auto fa = a.flatten().to(torch::kFloat64), fb = b.flatten().to(torch::kFloat64);
  const double cos_theta =
      std::clamp((fa.dot(fb) / (fa.norm() * fb.norm())).item<double>(), -1.0, 1.0);
  const double theta = std::acos(cos_theta);
  if (std::sin(theta) < 1e-6) return ((1.0 - w) * a + w * b);
  const double s = std::sin(theta);
  return (std::sin((1.0 - w) * theta) / s) * a + (std::sin(w * theta) / s) * b;
}

}  // namespace ddpm
