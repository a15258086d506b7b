// GaussianDiffusion: the forward process, parameterisation conversions, posteriors and the training
// loss. Pure maths over tensors; no model, no I/O.
#pragma once
#include <torch/types.h>

#include "ddpm/config/config.h"
#include "ddpm/diffusion/schedule.h"

namespace ddpm {

struct Gaussian {
  torch::Tensor mean;
  torch::Tensor variance;
  torch::Tensor log_variance;
};

// What a denoiser's output says about x_t: the clean image and the noise, x_t = α x̂_0 + σ ε̂.
struct Denoised {
  torch::Tensor x0;
  torch::Tensor eps;
};

struct ReversePrediction {
  torch::Tensor mean;      // μ_θ(x_t, t)
  torch::Tensor variance;  // Σ_θ (fixed)
  torch::Tensor log_variance;
  torch::Tensor pred_x0;   // x̂_0, clipped to [-1, 1] when asked
  torch::Tensor pred_eps;  // ε̂ consistent with the (clipped) x̂_0
};

// [B] int64 filled with timestep t, on like's device (B = like.size(0)).
torch::Tensor timestep_batch(int64_t t, const torch::Tensor& like);

class GaussianDiffusion {
 public:
  explicit GaussianDiffusion(const DiffusionConfig& config);

  // Moves the working copy of the table (float32) to a device; the float64 table stays on the CPU.
  void to(torch::Device device);

  int64_t timesteps() const { return table64_.size(); }
  const DiffusionConfig& config() const { return config_; }
  const ScheduleTable& table64() const { return table64_; }
  const ScheduleTable& table() const { return table_; }

  // x_t = √ᾱ_t x0 + √(1 − ᾱ_t) ε  (Ho et al. 2020, eq. 4).
  torch::Tensor q_sample(const torch::Tensor& x0, const torch::Tensor& t,
                         const torch::Tensor& noise) const;
  // Mean and variance of q(x_t | x0).
  Gaussian q_mean_variance(const torch::Tensor& x0, const torch::Tensor& t) const;

  // Conversions between the three parameterisations.
  torch::Tensor x0_from_eps(const torch::Tensor& x_t, const torch::Tensor& t,
                            const torch::Tensor& eps) const;
  torch::Tensor eps_from_x0(const torch::Tensor& x_t, const torch::Tensor& t,
                            const torch::Tensor& x0) const;
  // v = √ᾱ_t ε − √(1 − ᾱ_t) x0  (Salimans & Ho 2022).
  torch::Tensor v_from(const torch::Tensor& x0, const torch::Tensor& eps,
                       const torch::Tensor& t) const;
  torch::Tensor x0_from_v(const torch::Tensor& x_t, const torch::Tensor& t,
                          const torch::Tensor& v) const;

  // q(x_{t−1} | x_t, x0)  (Ho et al. 2020, eqs. 6–7).
  Gaussian q_posterior(const torch::Tensor& x0, const torch::Tensor& x_t,
                       const torch::Tensor& t) const;

  // x̂_0 from a model output in the configured objective.
  torch::Tensor predict_x0(const torch::Tensor& model_output, const torch::Tensor& x_t,
                           const torch::Tensor& t) const;
  // ε̂ from a model output: σ x_t + α v for v, the output itself for ε, (x_t − α x̂_0)/σ for x0.
  torch::Tensor predict_eps(const torch::Tensor& model_output, const torch::Tensor& x_t,
                            const torch::Tensor& t) const;
  // Both at once, each read off the output directly where the objective allows it. An ε-model's x̂_0
  // = (x_t − σ ε̂)/α carries its ε error times σ/α (3·10⁴ at the cosine schedule's last step), an
  // x0-model's ε̂ carries its error times α/σ; a v-model's are both bounded by |error| (α, σ ≤ 1).
  Denoised denoise(const torch::Tensor& model_output, const torch::Tensor& x_t,
                   const torch::Tensor& t) const;
  // p_θ(x_{t−1} | x_t) with the fixed variance of the config (β̃_t or β_t).
  ReversePrediction p_mean_variance(const torch::Tensor& model_output, const torch::Tensor& x_t,
                                    const torch::Tensor& t, bool clip_denoised) const;

  // The regression target for the configured objective.
  torch::Tensor training_target(const torch::Tensor& x0, const torch::Tensor& noise,
                                const torch::Tensor& t) const;
  // Per-example loss weight [B] (float32) for the configured loss_weighting: 1 for "none";
  // Min-SNR-γ (Hang et al. 2023) is min(SNR, γ)·‖x̂_0 − x_0‖² written in each objective's own units,
  // so ε: min(SNR, γ)/SNR, x0: min(SNR, γ), v: min(SNR, γ)/(SNR + 1), with SNR = ᾱ_t/(1 − ᾱ_t).
  torch::Tensor loss_weight(const torch::Tensor& t) const;
  // Per-example loss [B]: mean over pixels of |out − target| (l1) or (out − target)² (l2), times
  // loss_weight(t).
  torch::Tensor loss_per_example(const torch::Tensor& model_output, const torch::Tensor& x0,
                                 const torch::Tensor& noise, const torch::Tensor& t) const;

  // t ~ U{0, …, T−1}, shape [batch].
  torch::Tensor sample_timesteps(int64_t batch, torch::Device device) const;

 private:
  // table[t] reshaped to broadcast against x: [B, 1, 1, 1].
  torch::Tensor extract(const torch::Tensor& table, const torch::Tensor& t,
                        const torch::Tensor& like) const;

  DiffusionConfig config_;
  ScheduleTable table64_;
  ScheduleTable table_;
  torch::Tensor large_variance_;  // fixed_large Σ_t [T], on the working device
  torch::Tensor large_log_variance_;
};

}  // namespace ddpm
