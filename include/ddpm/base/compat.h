// Every difference between the LibTorch versions we build against lives here: Debian's 1.13 (CPU)
// and 2.x (CUDA). Nothing else in the code base tests TORCH_VERSION_*.
#pragma once
#include <ATen/autocast_mode.h>
#include <torch/optim/optimizer.h>
#include <torch/types.h>
#include <torch/version.h>

#include <sstream>
#include <string>
#include <type_traits>
#include <utility>

#if TORCH_VERSION_MAJOR >= 2
#define DDPM_TORCH2 1
#else
#define DDPM_TORCH2 0
#endif
// 2.4 generalised the autocast controls to take a device type.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define DDPM_AUTOCAST_BY_DEVICE 1
#else
#define DDPM_AUTOCAST_BY_DEVICE 0
#endif

namespace c10d {
class ProcessGroup;
class Backend;
}  // namespace c10d

namespace ddpm::compat {

// What c10d's ProcessGroupGloo and ProcessGroupNCCL derive from, and what a Communicator holds: a
// ProcessGroup in 1.13, a Backend (the per-device half of a ProcessGroup) in 2.x. Both offer the
// same allreduce and broadcast.
#if DDPM_TORCH2
using CollectiveGroup = c10d::Backend;
#else
using CollectiveGroup = c10d::ProcessGroup;
#endif

// Multi-head attention over [B, heads, L, d] tensors: softmax(q kᵀ / √d) v.
inline torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v) {
#if DDPM_TORCH2
  return at::scaled_dot_product_attention(q, k, v);  // fused (flash / memory-efficient) kernels
#else
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  auto weights = torch::softmax(torch::matmul(q, k.transpose(-2, -1)) * scale, -1);  // [B, h, L, L]
  return torch::matmul(weights, v);                                                  // [B, h, L, d]
#endif
}

// The key under which LibTorch's optimizers keep a parameter's state: a string made of the
// TensorImpl's address in 1.13, the address itself in later versions.
using OptimizerStateKey =
    std::decay_t<decltype(std::declval<torch::optim::Optimizer&>().state().begin()->first)>;
template <class Key = OptimizerStateKey>
Key optimizer_state_key(const torch::Tensor& parameter) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream key;  // as 1.13's c10::guts::to_string, which 2.x no longer has
    key << parameter.unsafeGetTensorImpl();
    return key.str();
  } else {
    return static_cast<Key>(parameter.unsafeGetTensorImpl());
  }
}

// bf16 autocast for the ops run on `device` while the object lives (off when `enabled` is false).
// On exit it clears the cache of cast weights, as Python's torch.autocast does, so the next step
// casts the updated weights again.
class AutocastScope {
 public:
  AutocastScope(torch::Device device, bool enabled) : enabled_(enabled), type_(device.type()) {
    if (!enabled_) return;
#if DDPM_AUTOCAST_BY_DEVICE
    was_enabled_ = at::autocast::is_autocast_enabled(type_);
    was_dtype_ = at::autocast::get_autocast_dtype(type_);
    at::autocast::set_autocast_dtype(type_, at::kBFloat16);
    at::autocast::set_autocast_enabled(type_, true);
#else
    const bool cpu = type_ == torch::kCPU;
    was_enabled_ = cpu ? at::autocast::is_cpu_enabled() : at::autocast::is_enabled();
    was_dtype_ =
        cpu ? at::autocast::get_autocast_cpu_dtype() : at::autocast::get_autocast_gpu_dtype();
    if (cpu) {
      at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
      at::autocast::set_cpu_enabled(true);
    } else {
      at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
      at::autocast::set_enabled(true);
    }
#endif
    at::autocast::increment_nesting();
  }
  ~AutocastScope() {
    if (!enabled_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
#if DDPM_AUTOCAST_BY_DEVICE
    at::autocast::set_autocast_enabled(type_, was_enabled_);
    at::autocast::set_autocast_dtype(type_, was_dtype_);
#else
    if (type_ == torch::kCPU) {
      at::autocast::set_cpu_enabled(was_enabled_);
      at::autocast::set_autocast_cpu_dtype(was_dtype_);
    } else {
      at::autocast::set_enabled(was_enabled_);
      at::autocast::set_autocast_gpu_dtype(was_dtype_);
    }
#endif
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool enabled_;
  torch::DeviceType type_;
  bool was_enabled_ = false;
  at::ScalarType was_dtype_ = at::kFloat;
};

inline std::string version_string() {
  return std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
         std::to_string(TORCH_VERSION_PATCH);
}

}  // namespace ddpm::compat
