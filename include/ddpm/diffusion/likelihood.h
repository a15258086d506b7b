// The variational bound in bits/dim (Ho et al. 2020 §3.3, eq. 5; Nichol & Dhariwal 2021 §2):
// Gaussian KL terms, the discretized Gaussian decoder L_0 and the prior term L_T. Pure maths over
// tensors.
#pragma once
#include <torch/types.h>

#include <functional>
#include <vector>

#include "ddpm/diffusion/denoiser.h"
#include "ddpm/diffusion/diffusion.h"

namespace ddpm {

// KL(N(m1, e^lv1) ‖ N(m2, e^lv2)) elementwise, in nats.
torch::Tensor normal_kl(const torch::Tensor& mean1, const torch::Tensor& logvar1,
                        const torch::Tensor& mean2, const torch::Tensor& logvar2);

// log P(x) of data x ∈ [-1, 1] on the 256-level grid under a Gaussian discretized into bins of
// width 2/255, the two edge bins extended to ±∞ (Ho et al. 2020, eq. 13). Elementwise, in nats.
torch::Tensor discretized_gaussian_log_likelihood(const torch::Tensor& x, const torch::Tensor& mean,
                                                  const torch::Tensor& log_scale);

struct BoundTerms {
  torch::Tensor prior;    // [B] L_T in bits/dim
  torch::Tensor decoder;  // [B] L_0 in bits/dim
  torch::Tensor terms;    // [B, K] the L_{t−1} estimates (bits/dim) at each evaluated timestep
  std::vector<int64_t> timesteps;  // the K timesteps (≥ 1) in `terms`
  std::vector<double> weights;     // how many timesteps each term stands for (all 1 when exact)
  torch::Tensor middle() const;    // [B] Σ_k weight_k · terms_k
  torch::Tensor total() const;     // [B] prior + decoder + middle
};

// Evaluates the bound for a batch x0 in [-1, 1] (on the 256-level grid). `subset` = 0 evaluates all
// T − 1 middle terms. `subset` = K > 0 estimates their sum from K strata of {1, …, T−1} whose edges
// are spaced quadratically (the terms fall off fast with t, so small t get strata of one step): the
// middle of each stratum stands for all of it. noise_seed fixes the x_t draws.
BoundTerms variational_bound(const GaussianDiffusion& diffusion, const Denoiser& denoiser,
                             const torch::Tensor& x0, int64_t subset, uint64_t noise_seed,
                             const std::function<void(int64_t, int64_t)>& progress = {});

}  // namespace ddpm
