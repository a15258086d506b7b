// The DDPM UNet (Ho et al. 2020): time-conditioned residual blocks, attention at chosen
// resolutions, skips.
#pragma once
#include <torch/nn.h>

#include <string>
#include <vector>

#include "ddpm/config/config.h"
#include "ddpm/model/layers.h"

namespace ddpm {

class UNetImpl : public torch::nn::Module {
 public:
  explicit UNetImpl(const ModelConfig& config);

  // x_t [B, C, H, W], t [B] (long), class_labels [B] (long; num_classes = the null class) or
  // undefined. Returns the model output [B, C, H, W].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& t,
                        const torch::Tensor& class_labels = {});

  const ModelConfig& config() const { return config_; }
  int64_t null_class() const { return config_.num_classes; }
  // Forward FLOPs per image (multiply-add = 2; convolutions, linear layers and attention products).
  // A training step costs about 3× this (the backward pass computes two products per forward one).
  double forward_flops() const { return flops_; }

 private:
  struct Level {
    std::vector<ResBlock> res;
    std::vector<AttentionBlock> attn;  // null entries where the resolution has no attention
    Upsample up{nullptr};
    Downsample down{nullptr};
  };

  // Where construction is: channels of the current tensor, its resolution, and the channel count of
  // every tensor pushed onto the skip stack (in push order).
  struct Cursor {
    int64_t channels;
    int64_t resolution;
    std::vector<int64_t> skips;
  };
  // A residual block (and attention where the resolution has it) from cursor.channels to `out`.
  void add_block(Level& level, Cursor& at, int64_t in, int64_t out, const std::string& name);
  void build_down(Cursor& at);
  void build_middle(const Cursor& at);
  void build_up(Cursor& at);

  ModelConfig config_;
  int64_t temb_dim_ = 0;
  double flops_ = 0.0;
  TimeEmbedding time_embed_{nullptr};
  torch::nn::Embedding class_embed_{nullptr};
  torch::nn::Conv2d conv_in_{nullptr};
  std::vector<Level> down_levels_;
  ResBlock mid_res1_{nullptr};
  AttentionBlock mid_attn_{nullptr};
  ResBlock mid_res2_{nullptr};
  std::vector<Level> up_levels_;  // in forward order: lowest resolution first
  torch::nn::GroupNorm norm_out_{nullptr};
  torch::nn::Conv2d conv_out_{nullptr};
};
TORCH_MODULE(UNet);

int64_t count_parameters(torch::nn::Module& module);

}  // namespace ddpm
