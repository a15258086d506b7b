// Closed-form denoisers shared by the sampler tests.
#pragma once
#include <cmath>
#include <vector>

#include "ddpm/diffusion/diffusion.h"
#include "ddpm/sampling/samplers.h"

namespace ddpm::test {

// The oracle tests draw 8 images of 50×50 independent pixels: N = 20000 draws per statistic.
inline constexpr int64_t kImages = 8, kSide = 50;
inline constexpr double kN = kImages * kSide * kSide;

// Noise for those images, image i seeded with seed + i.
inline NoiseStream make_noise(uint64_t seed) {
  std::vector<uint64_t> seeds;
  for (int64_t i = 0; i < kImages; ++i) seeds.push_back(seed + i);
  return NoiseStream(seeds, {1, kSide, kSide}, torch::kCPU);
}

// E[x0 | x_t] for data drawn from a mixture of N(m_i, s²) (s = 0: point masses) with weights π_i:
// each component's posterior mean m_i + √ᾱ s² (x − √ᾱ m_i)/(ᾱ s² + 1 − ᾱ), weighted by its
// responsibility. Computed directly, with no division by √ᾱ, so it is exact at every SNR.
inline torch::Tensor mixture_x0(const GaussianDiffusion& d, const torch::Tensor& x,
                                const torch::Tensor& t, const std::vector<double>& means,
                                const std::vector<double>& weights, double s) {
  auto ab = d.table().alphas_cumprod.index_select(0, t).view({-1, 1, 1, 1}).to(x.scalar_type());
  auto var = ab * s * s + 1 - ab;  // marginal variance of x_t given the component
  std::vector<torch::Tensor> logits, posterior_means;
  for (size_t i = 0; i < means.size(); ++i) {
    auto diff = x - torch::sqrt(ab) * means[i];
    logits.push_back(std::log(weights[i]) - diff * diff / (2 * var));
    posterior_means.push_back(means[i] + torch::sqrt(ab) * s * s * diff / var);
  }
  auto resp = torch::softmax(torch::stack(logits), 0);
  return (resp * torch::stack(posterior_means)).sum(0);
}

}  // namespace ddpm::test
