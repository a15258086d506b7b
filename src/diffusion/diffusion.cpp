#include "ddpm/diffusion/diffusion.h"

#include "ddpm/base/error.h"

namespace ddpm {

torch::Tensor timestep_batch(int64_t t, const torch::Tensor& like) {
  return torch::full({like.size(0)}, t,
                     torch::TensorOptions().dtype(torch::kLong).device(like.device()));
}

GaussianDiffusion::GaussianDiffusion(const DiffusionConfig& config)
    : config_(config), table64_(make_schedule_table(make_betas(config))) {
  to(torch::kCPU);
}

void GaussianDiffusion::to(torch::Device device) {
  table_ = table64_.to(device, torch::kFloat32);
  // Σ = β_t, with β̃_1 at t = 0 so the decoder variance stays the posterior's (Ho et al. 2020,
  // §3.2).
  large_variance_ =
      table_.betas.size(0) == 1
          ? table_.betas
          : torch::cat({table_.posterior_variance.slice(0, 1, 2), table_.betas.slice(0, 1)});
  large_log_variance_ = torch::log(large_variance_);
}

torch::Tensor GaussianDiffusion::extract(const torch::Tensor& table, const torch::Tensor& t,
                                         const torch::Tensor& like) const {
  auto values = table.index_select(0, t.to(table.device(), torch::kLong).reshape({-1}));  // [B]
  std::vector<int64_t> shape(like.dim(), 1);
  shape[0] = values.size(0);
  return values.view(shape).to(like.device(), like.scalar_type());  // [B, 1, 1, 1]
}

torch::Tensor GaussianDiffusion::q_sample(const torch::Tensor& x0, const torch::Tensor& t,
                                          const torch::Tensor& noise) const {
  return extract(table_.sqrt_alphas_cumprod, t, x0) * x0 +
         extract(table_.sqrt_one_minus_alphas_cumprod, t, x0) * noise;
}

Gaussian GaussianDiffusion::q_mean_variance(const torch::Tensor& x0, const torch::Tensor& t) const {
  auto variance = extract(1.0 - table_.alphas_cumprod, t, x0);
  return {extract(table_.sqrt_alphas_cumprod, t, x0) * x0, variance, torch::log(variance)};
}

torch::Tensor GaussianDiffusion::x0_from_eps(const torch::Tensor& x_t, const torch::Tensor& t,
                                             const torch::Tensor& eps) const {
  // x0 = x_t/√ᾱ_t − √(1/ᾱ_t − 1) ε  (inverse of eq. 4)
  return extract(table_.sqrt_recip_alphas_cumprod, t, x_t) * x_t -
         extract(table_.sqrt_recipm1_alphas_cumprod, t, x_t) * eps;
}

torch::Tensor GaussianDiffusion::eps_from_x0(const torch::Tensor& x_t, const torch::Tensor& t,
                                             const torch::Tensor& x0) const {
  return (extract(table_.sqrt_recip_alphas_cumprod, t, x_t) * x_t - x0) /
         extract(table_.sqrt_recipm1_alphas_cumprod, t, x_t);
}

torch::Tensor GaussianDiffusion::v_from(const torch::Tensor& x0, const torch::Tensor& eps,
                                        const torch::Tensor& t) const {
  return extract(table_.sqrt_alphas_cumprod, t, x0) * eps -
         extract(table_.sqrt_one_minus_alphas_cumprod, t, x0) * x0;
}

torch::Tensor GaussianDiffusion::x0_from_v(const torch::Tensor& x_t, const torch::Tensor& t,
                                           const torch::Tensor& v) const {
  // x0 = √ᾱ_t x_t − √(1 − ᾱ_t) v
  return extract(table_.sqrt_alphas_cumprod, t, x_t) * x_t -
         extract(table_.sqrt_one_minus_alphas_cumprod, t, x_t) * v;
}

Gaussian GaussianDiffusion::q_posterior(const torch::Tensor& x0, const torch::Tensor& x_t,
                                        const torch::Tensor& t) const {
  auto mean = extract(table_.posterior_mean_coef1, t, x_t) * x0 +
              extract(table_.posterior_mean_coef2, t, x_t) * x_t;  // eq. 7
  return {mean, extract(table_.posterior_variance, t, x_t),
          extract(table_.posterior_log_variance_clipped, t, x_t)};
}

torch::Tensor GaussianDiffusion::predict_x0(const torch::Tensor& model_output,
                                            const torch::Tensor& x_t,
                                            const torch::Tensor& t) const {
  switch (config_.objective) {
    case Objective::eps:
      return x0_from_eps(x_t, t, model_output);
    case Objective::x0:
      return model_output;
    case Objective::v:
      break;
  }
  return x0_from_v(x_t, t, model_output);
}

torch::Tensor GaussianDiffusion::predict_eps(const torch::Tensor& model_output,
                                             const torch::Tensor& x_t,
                                             const torch::Tensor& t) const {
  switch (config_.objective) {
    case Objective::eps:
      return model_output;
    case Objective::x0:
      return eps_from_x0(x_t, t, model_output);
    case Objective::v:
      break;
  }
  // ε = σ x_t + α v  (Salimans & Ho 2022, from x_t = α x0 + σ ε and v = α ε − σ x0)
  return extract(table_.sqrt_one_minus_alphas_cumprod, t, x_t) * x_t +
         extract(table_.sqrt_alphas_cumprod, t, x_t) * model_output;
}

Denoised GaussianDiffusion::denoise(const torch::Tensor& model_output, const torch::Tensor& x_t,
                                    const torch::Tensor& t) const {
  auto out = model_output.to(x_t.scalar_type());
  return {predict_x0(out, x_t, t), predict_eps(out, x_t, t)};
}

ReversePrediction GaussianDiffusion::p_mean_variance(const torch::Tensor& model_output,
                                                     const torch::Tensor& x_t,
                                                     const torch::Tensor& t,
                                                     bool clip_denoised) const {
  auto out = model_output.to(x_t.scalar_type());
  auto x0 = predict_x0(out, x_t, t);
  if (clip_denoised) x0 = x0.clamp(-1.0, 1.0);
  auto posterior = q_posterior(x0, x_t, t);
  ReversePrediction p;
  p.mean = posterior.mean;
  p.pred_x0 = x0;
  p.pred_eps = eps_from_x0(x_t, t, x0);
  if (config_.variance == Variance::fixed_large) {
    p.variance = extract(large_variance_, t, x_t);
    p.log_variance = extract(large_log_variance_, t, x_t);
  } else {
    p.variance = posterior.variance;
    p.log_variance = posterior.log_variance;
  }
  return p;
}

torch::Tensor GaussianDiffusion::training_target(const torch::Tensor& x0,
                                                 const torch::Tensor& noise,
                                                 const torch::Tensor& t) const {
  switch (config_.objective) {
    case Objective::eps:
      return noise;
    case Objective::x0:
      return x0;
    case Objective::v:
      break;
  }
  return v_from(x0, noise, t);
}

torch::Tensor GaussianDiffusion::loss_weight(const torch::Tensor& t) const {
  if (config_.loss_weighting == LossWeighting::none) {
    return torch::ones({t.size(0)}, torch::TensorOptions().device(t.device()));
  }
  auto ab =
      table_.alphas_cumprod.index_select(0, t.to(table_.alphas_cumprod.device(), torch::kLong))
          .to(t.device());
  auto snr = ab / (1.0 - ab);
  auto clipped = torch::clamp_max(snr, config_.min_snr_gamma);
  switch (config_.objective) {
    case Objective::eps:
      return clipped / snr;
    case Objective::x0:
      return clipped;
    case Objective::v:
      break;
  }
  return clipped / (snr + 1.0);  // v
}

torch::Tensor GaussianDiffusion::loss_per_example(const torch::Tensor& model_output,
                                                  const torch::Tensor& x0,
                                                  const torch::Tensor& noise,
                                                  const torch::Tensor& t) const {
  auto diff = model_output.to(torch::kFloat32) - training_target(x0, noise, t);
  auto per_pixel = config_.loss == Loss::l1 ? diff.abs() : diff.square();
  // [B]: L_simple (Ho et al. 2020, eq. 14), weighted per timestep
  return per_pixel.flatten(1).mean(1) * loss_weight(t);
}

torch::Tensor GaussianDiffusion::sample_timesteps(int64_t batch, torch::Device device) const {
  return torch::randint(0, timesteps(), {batch},
                        torch::TensorOptions().dtype(torch::kLong).device(device));
}

}  // namespace ddpm
