// Beta schedules as pure float64 functions, and the table of derived quantities the diffusion maths
// uses.
#pragma once
#include <torch/types.h>

#include <vector>

#include "ddpm/config/config.h"

namespace ddpm {

// β_t = linspace(start, end, T) (Ho et al. 2020, §4).
std::vector<double> linear_betas(int64_t timesteps, double beta_start, double beta_end);
// ᾱ(t) = f(t)/f(0), f(t) = cos²((t/T + s)/(1 + s) · π/2); β_t = 1 − ᾱ_t/ᾱ_{t−1} clipped at max_beta
// (Nichol & Dhariwal 2021, eq. 17).
std::vector<double> cosine_betas(int64_t timesteps, double s = 0.008, double max_beta = 0.999);
std::vector<double> make_betas(const DiffusionConfig& config);

// Every tensor is [T], indexed by t = 0..T−1 (t = 0 is the paper's t = 1).
struct ScheduleTable {
  torch::Tensor betas;
  torch::Tensor alphas;                         // 1 − β_t
  torch::Tensor alphas_cumprod;                 // ᾱ_t
  torch::Tensor alphas_cumprod_prev;            // ᾱ_{t−1}, with ᾱ_{−1} = 1
  torch::Tensor sqrt_alphas_cumprod;            // √ᾱ_t
  torch::Tensor sqrt_one_minus_alphas_cumprod;  // √(1 − ᾱ_t)
  torch::Tensor sqrt_recip_alphas_cumprod;      // 1/√ᾱ_t
  torch::Tensor sqrt_recipm1_alphas_cumprod;    // √(1/ᾱ_t − 1)
  // σ_t = √((1 − ᾱ_t)/ᾱ_t): the noise level of x_t/√ᾱ_t, in which the few-step samplers, EDM's
  // σ_max and the guidance interval are expressed. Equal to sqrt_recipm1_alphas_cumprod but for
  // rounding; the samplers' outputs are defined on this form.
  torch::Tensor sigmas;
  torch::Tensor lambdas;  // λ_t = log(√ᾱ_t / √(1 − ᾱ_t)): half the log-SNR, DPM-Solver's variable
  torch::Tensor posterior_variance;  // β̃_t = (1 − ᾱ_{t−1})/(1 − ᾱ_t) · β_t
  torch::Tensor posterior_log_variance_clipped;  // log β̃_t with β̃_0 replaced by β̃_1
  torch::Tensor posterior_mean_coef1;  // β_t √ᾱ_{t−1} / (1 − ᾱ_t)      (multiplies x0)
  torch::Tensor posterior_mean_coef2;  // (1 − ᾱ_{t−1}) √α_t / (1 − ᾱ_t) (multiplies x_t)

  int64_t size() const { return betas.size(0); }
  ScheduleTable to(torch::Device device, torch::ScalarType dtype) const;
};

// Builds the table in float64 on the CPU.
ScheduleTable make_schedule_table(const std::vector<double>& betas);

}  // namespace ddpm
