#include "ddpm/sampling/guidance.h"

namespace ddpm {

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
  const torch::Tensor& sigma = diffusion.table64().sigmas;
  return sigma.ge(sigma_min).logical_and(sigma.le(sigma_max));
}

}  // namespace ddpm
