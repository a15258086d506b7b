#include "ddpm/model/layers.h"

#include <cmath>

#include "ddpm/base/compat.h"

namespace ddpm {

namespace nn = torch::nn;

nn::Conv2d conv3x3(int64_t in_ch, int64_t out_ch, int64_t stride) {
  return nn::Conv2d(nn::Conv2dOptions(in_ch, out_ch, 3).stride(stride).padding(1));
}

nn::Conv2d conv1x1(int64_t in_ch, int64_t out_ch) {
  return nn::Conv2d(nn::Conv2dOptions(in_ch, out_ch, 1));
}

void zero_init(nn::Conv2d& conv) {
  torch::NoGradGuard no_grad;
  conv->weight.zero_();
  if (conv->bias.defined()) conv->bias.zero_();
}

torch::Tensor timestep_embedding(const torch::Tensor& t, int64_t dim) {
  const int64_t half = dim / 2;
  // freq_i = exp(−log(10000) · i / (half − 1)), as in the original DDPM code.
  const double step = std::log(10000.0) / static_cast<double>(std::max<int64_t>(half - 1, 1));
  auto freqs = torch::exp(
      torch::arange(half, torch::TensorOptions().dtype(torch::kFloat32).device(t.device())) *
      -step);                                                           // [half]
  auto args = t.to(torch::kFloat32).unsqueeze(1) * freqs.unsqueeze(0);  // [B, half]
  auto emb = torch::cat({torch::sin(args), torch::cos(args)}, 1);       // [B, 2·half]
  if (dim % 2 == 1)
    emb = torch::nn::functional::pad(emb, torch::nn::functional::PadFuncOptions({0, 1}));
  return emb;  // [B, dim]
}

TimeEmbeddingImpl::TimeEmbeddingImpl(int64_t dim, int64_t out_dim)
    : dim_(dim),
      fc1_(register_module("fc1", nn::Linear(dim, out_dim))),
      fc2_(register_module("fc2", nn::Linear(out_dim, out_dim))) {}

torch::Tensor TimeEmbeddingImpl::forward(const torch::Tensor& t) {
  return fc2_(torch::silu(fc1_(timestep_embedding(t, dim_))));  // [B, out_dim]
}

ResBlockImpl::ResBlockImpl(int64_t in_ch, int64_t out_ch, int64_t temb_dim, double dropout,
                           int64_t groups)
    : norm1_(register_module("norm1", nn::GroupNorm(nn::GroupNormOptions(groups, in_ch)))),
      conv1_(register_module("conv1", conv3x3(in_ch, out_ch))),
      temb_proj_(register_module("temb_proj", nn::Linear(temb_dim, out_ch))),
      norm2_(register_module("norm2", nn::GroupNorm(nn::GroupNormOptions(groups, out_ch)))),
      dropout_(register_module("dropout", nn::Dropout(dropout))),
      conv2_(register_module("conv2", conv3x3(out_ch, out_ch))) {
  zero_init(conv2_);
  if (in_ch != out_ch) skip_ = register_module("skip", conv1x1(in_ch, out_ch));
}

torch::Tensor group_norm(torch::nn::GroupNorm& norm, const torch::Tensor& x) {
  // Under bf16 autocast the convolutions hand over bf16 activations. CUDA autocast runs GroupNorm
  // in fp32 by itself; CPU autocast (LibTorch 1.13) passes bf16 to a kernel that wants the fp32
  // weights' type. Normalising in the weights' precision does what CUDA does, on every device.
  const auto type = norm->weight.scalar_type();
  return norm(x.scalar_type() == type ? x : x.to(type));
}

torch::Tensor norm_silu(torch::nn::GroupNorm& norm, const torch::Tensor& x) {
  auto h = group_norm(norm, x);
  // Without autograd (sampling) the activation can overwrite the fresh normalised tensor.
  return torch::GradMode::is_enabled() ? torch::silu(h) : torch::silu_(h);
}

torch::Tensor ResBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& temb) {
  const bool grad = torch::GradMode::is_enabled();
  auto h = conv1_(norm_silu(norm1_, x));                               // [B, out, H, W]
  auto t = temb_proj_(torch::silu(temb)).unsqueeze(-1).unsqueeze(-1);  // [B, out, 1, 1]
  h = grad ? h + t : h.add_(t);
  h = conv2_(dropout_(norm_silu(norm2_, h)));
  return grad ? (skip_ ? skip_(x) : x) + h : h.add_(skip_ ? skip_(x) : x);
}

AttentionBlockImpl::AttentionBlockImpl(int64_t channels, int64_t heads, int64_t groups)
    : heads_(heads),
      norm_(register_module("norm", nn::GroupNorm(nn::GroupNormOptions(groups, channels)))),
      qkv_(register_module("qkv", conv1x1(channels, 3 * channels))),
      proj_(register_module("proj", conv1x1(channels, channels))) {
  zero_init(proj_);
}

torch::Tensor AttentionBlockImpl::forward(const torch::Tensor& x) {
  const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t d = C / heads_;
  auto qkv = qkv_(group_norm(norm_, x)).reshape({B, 3, heads_, d, H * W});  // [B, 3, h, d, L]
  auto q = qkv.select(1, 0).transpose(-2, -1);                              // [B, h, L, d]
  auto k = qkv.select(1, 1).transpose(-2, -1);
  auto v = qkv.select(1, 2).transpose(-2, -1);
  auto out = compat::attention(q, k, v);              // [B, h, L, d]
  out = out.transpose(-2, -1).reshape({B, C, H, W});  // [B, C, H, W]
  auto projected = proj_(out);
  return torch::GradMode::is_enabled() ? x + projected : projected.add_(x);
}

DownsampleImpl::DownsampleImpl(int64_t channels)
    : conv_(register_module("conv", conv3x3(channels, channels, 2))) {}

torch::Tensor DownsampleImpl::forward(const torch::Tensor& x) {
  return conv_(x);
}  // [B, C, H/2, W/2]

UpsampleImpl::UpsampleImpl(int64_t channels)
    : conv_(register_module("conv", conv3x3(channels, channels))) {}

torch::Tensor UpsampleImpl::forward(const torch::Tensor& x) {
  namespace F = torch::nn::functional;
  auto up = F::interpolate(x, F::InterpolateFuncOptions()
                                  .scale_factor(std::vector<double>{2.0, 2.0})
                                  .mode(torch::kNearest));  // [B, C, 2H, 2W]
  return conv_(up);
}

}  // namespace ddpm
