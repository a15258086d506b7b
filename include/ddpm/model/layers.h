// The UNet's building blocks (Ho et al. 2020, appendix B; REFERENCE.md). Registered names are
// checkpoint keys.
#pragma once
#include <torch/nn.h>

namespace ddpm {

// Sinusoidal embedding of integer timesteps: [B] → [B, dim] (Vaswani et al. 2017, as in DDPM).
torch::Tensor timestep_embedding(const torch::Tensor& t, int64_t dim);

// sinusoidal(dim) → Linear(dim, 4·dim) → SiLU → Linear(4·dim, 4·dim).
class TimeEmbeddingImpl : public torch::nn::Module {
 public:
  TimeEmbeddingImpl(int64_t dim, int64_t out_dim);
  torch::Tensor forward(const torch::Tensor& t);  // [B] → [B, out_dim]

 private:
  int64_t dim_;
  torch::nn::Linear fc1_, fc2_;
};
TORCH_MODULE(TimeEmbedding);

// GN → SiLU → conv3×3 → + Linear(SiLU(temb)) → GN → SiLU → dropout → conv3×3 (zero-init), + skip.
class ResBlockImpl : public torch::nn::Module {
 public:
  ResBlockImpl(int64_t in_ch, int64_t out_ch, int64_t temb_dim, double dropout, int64_t groups);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& temb);

 private:
  torch::nn::GroupNorm norm1_;
  torch::nn::Conv2d conv1_;
  torch::nn::Linear temb_proj_;
  torch::nn::GroupNorm norm2_;
  torch::nn::Dropout dropout_;
  torch::nn::Conv2d conv2_;
  torch::nn::Conv2d skip_{nullptr};  // 1×1, only when channels change
};
TORCH_MODULE(ResBlock);

// GN → 1×1 qkv → softmax(q kᵀ/√d) v per head → 1×1 proj (zero-init), residual.
class AttentionBlockImpl : public torch::nn::Module {
 public:
  AttentionBlockImpl(int64_t channels, int64_t heads, int64_t groups);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  int64_t heads_;
  torch::nn::GroupNorm norm_;
  torch::nn::Conv2d qkv_;
  torch::nn::Conv2d proj_;
};
TORCH_MODULE(AttentionBlock);

// Stride-2 conv3×3.
class DownsampleImpl : public torch::nn::Module {
 public:
  explicit DownsampleImpl(int64_t channels);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv_;
};
TORCH_MODULE(Downsample);

// Nearest-neighbour ×2 then conv3×3.
class UpsampleImpl : public torch::nn::Module {
 public:
  explicit UpsampleImpl(int64_t channels);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv_;
};
TORCH_MODULE(Upsample);

// GroupNorm computed in the precision of its weights (fp32 under bf16 autocast, as CUDA autocast
// does).
torch::Tensor group_norm(torch::nn::GroupNorm& norm, const torch::Tensor& x);
// SiLU(GroupNorm(x)); in place when autograd is off.
torch::Tensor norm_silu(torch::nn::GroupNorm& norm, const torch::Tensor& x);

// Conv2d 3×3 with padding 1 (or 1×1), the shape used everywhere in the UNet.
torch::nn::Conv2d conv3x3(int64_t in_ch, int64_t out_ch, int64_t stride = 1);
torch::nn::Conv2d conv1x1(int64_t in_ch, int64_t out_ch);
// Zeroes a layer's weight and bias (the original's zero-initialised output layers).
void zero_init(torch::nn::Conv2d& conv);

}  // namespace ddpm
