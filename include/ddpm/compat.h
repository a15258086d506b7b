// Every difference between the LibTorch versions we build against lives here: Debian's 1.13 (CPU) and 2.x
// (CUDA). Nothing else in the code base tests TORCH_VERSION_*.
#pragma once
#include <torch/types.h>
#include <torch/version.h>

#include <string>

#if TORCH_VERSION_MAJOR >= 2
#define DDPM_TORCH2 1
#else
#define DDPM_TORCH2 0
#endif

namespace ddpm::compat {

// Multi-head attention over [B, heads, L, d] tensors: softmax(q kᵀ / √d) v.
inline torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
#if DDPM_TORCH2
  return at::scaled_dot_product_attention(q, k, v);  // fused (flash / memory-efficient) kernels
#else
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  auto weights = torch::softmax(torch::matmul(q, k.transpose(-2, -1)) * scale, -1);  // [B, h, L, L]
  return torch::matmul(weights, v);                                                    // [B, h, L, d]
#endif
}

// The key under which LibTorch's optimizers keep a parameter's state (tests inspect it).
inline std::string optimizer_state_key(const torch::Tensor& parameter) {
  return c10::guts::to_string(parameter.unsafeGetTensorImpl());
}

inline std::string version_string() {
  return std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
         std::to_string(TORCH_VERSION_PATCH);
}

}  // namespace ddpm::compat
