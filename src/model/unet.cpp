#include "ddpm/model/unet.h"

#include <algorithm>

#include "ddpm/base/error.h"

namespace ddpm {

namespace nn = torch::nn;

namespace {
// Forward FLOPs per image, counting a multiply-add as 2 and leaving out normalisation, activations
// and other elementwise work (under 1% of the total for these shapes).
double conv_flops(int64_t in, int64_t out, int64_t kernel, int64_t out_resolution) {
  return 2.0 * kernel * kernel * in * out * out_resolution * out_resolution;
}
double res_block_flops(int64_t in, int64_t out, int64_t temb, int64_t r) {
  return conv_flops(in, out, 3, r) + 2.0 * temb * out + conv_flops(out, out, 3, r) +
         (in != out ? conv_flops(in, out, 1, r) : 0.0);
}
double attention_flops(int64_t c, int64_t r) {
  const double L = static_cast<double>(r * r);
  return conv_flops(c, 3 * c, 1, r) + 2.0 * 2.0 * L * L * c + conv_flops(c, c, 1, r);
}
}  // namespace

namespace {

std::string block_name(const char* path, int64_t level, const char* kind, int64_t index) {
  return std::string(path) + std::to_string(level) + "_" + kind +
         (index >= 0 ? "_" + std::to_string(index) : "");
}

}  // namespace

UNetImpl::UNetImpl(const ModelConfig& config)
    : config_(config), temb_dim_(4 * config.base_channels) {
  const int64_t ch = config.base_channels;
  time_embed_ = register_module("time_embed", TimeEmbedding(ch, temb_dim_));
  flops_ = 2.0 * (ch * temb_dim_ + temb_dim_ * temb_dim_);
  if (config.num_classes > 0) {
    // One extra row: the "null" class used for classifier-free guidance.
    class_embed_ = register_module(
        "class_embed", nn::Embedding(nn::EmbeddingOptions(config.num_classes + 1, temb_dim_)));
  }
  conv_in_ = register_module("conv_in", conv3x3(config.in_channels, ch));
  flops_ += conv_flops(config.in_channels, ch, 3, config.image_size);
  Cursor at{ch, config.image_size, {ch}};
  build_down(at);
  build_middle(at);
  build_up(at);
  norm_out_ = register_module("norm_out",
                              nn::GroupNorm(nn::GroupNormOptions(config.num_groups, at.channels)));
  conv_out_ = register_module("conv_out", conv3x3(at.channels, config.in_channels));
  flops_ += conv_flops(at.channels, config.in_channels, 3, at.resolution);
  zero_init(conv_out_);
}

void UNetImpl::add_block(Level& level, Cursor& at, int64_t in, int64_t out,
                         const std::string& name) {
  const auto& c = config_;
  level.res.push_back(register_module(name + "_res_" + std::to_string(level.res.size()),
                                      ResBlock(in, out, temb_dim_, c.dropout, c.num_groups)));
  flops_ += res_block_flops(in, out, temb_dim_, at.resolution);
  at.channels = out;
  const auto& r = c.attention_resolutions;
  const bool attention = std::find(r.begin(), r.end(), at.resolution) != r.end();
  if (attention) flops_ += attention_flops(out, at.resolution);
  level.attn.push_back(attention
                           ? register_module(name + "_attn_" + std::to_string(level.attn.size()),
                                             AttentionBlock(out, c.num_heads, c.num_groups))
                           : AttentionBlock(nullptr));
}

// Down path: num_res_blocks blocks per level, each output pushed onto the skip stack, then a
// downsampling (whose output is pushed too) below every level but the last.
void UNetImpl::build_down(Cursor& at) {
  const int64_t levels = static_cast<int64_t>(config_.channel_mults.size());
  for (int64_t i = 0; i < levels; ++i) {
    Level level;
    const std::string name = "down" + std::to_string(i);
    for (int64_t j = 0; j < config_.num_res_blocks; ++j) {
      add_block(level, at, at.channels, config_.base_channels * config_.channel_mults[i], name);
      at.skips.push_back(at.channels);
    }
    if (i + 1 < levels) {
      level.down =
          register_module(block_name("down", i, "downsample", -1), Downsample(at.channels));
      at.skips.push_back(at.channels);
      at.resolution /= 2;
      flops_ += conv_flops(at.channels, at.channels, 3, at.resolution);
    }
    down_levels_.push_back(std::move(level));
  }
}

void UNetImpl::build_middle(const Cursor& at) {
  const int64_t c = at.channels, groups = config_.num_groups;
  mid_res1_ = register_module("mid_res1", ResBlock(c, c, temb_dim_, config_.dropout, groups));
  mid_attn_ = register_module("mid_attn", AttentionBlock(c, config_.num_heads, groups));
  mid_res2_ = register_module("mid_res2", ResBlock(c, c, temb_dim_, config_.dropout, groups));
  flops_ += 2 * res_block_flops(c, c, temb_dim_, at.resolution) + attention_flops(c, at.resolution);
}

// Up path: one more res block per level than on the way down, each consuming one skip.
void UNetImpl::build_up(Cursor& at) {
  for (int64_t i = static_cast<int64_t>(config_.channel_mults.size()) - 1; i >= 0; --i) {
    Level level;
    const std::string name = "up" + std::to_string(i);
    for (int64_t j = 0; j <= config_.num_res_blocks; ++j) {
      const int64_t skip = at.skips.back();
      at.skips.pop_back();
      add_block(level, at, at.channels + skip, config_.base_channels * config_.channel_mults[i],
                name);
    }
    if (i > 0) {
      level.up = register_module(block_name("up", i, "upsample", -1), Upsample(at.channels));
      at.resolution *= 2;
      flops_ += conv_flops(at.channels, at.channels, 3, at.resolution);
    }
    up_levels_.push_back(std::move(level));
  }
}

torch::Tensor UNetImpl::forward(const torch::Tensor& x, const torch::Tensor& t,
                                const torch::Tensor& class_labels) {
  auto temb = time_embed_(t);  // [B, 4·ch]
  if (class_embed_) {
    auto labels = class_labels.defined()
                      ? class_labels.to(torch::kLong)
                      : torch::full({x.size(0)}, null_class(),
                                    torch::TensorOptions().dtype(torch::kLong).device(x.device()));
    temb = temb + class_embed_(labels);  // [B, 4·ch]
  } else if (class_labels.defined()) {
    throw Error("class labels given to an unconditional model (model.num_classes = 0)");
  }

  auto h = conv_in_(x);  // [B, ch, H, W]
  std::vector<torch::Tensor> skips = {h};
  for (auto& level : down_levels_) {
    for (size_t j = 0; j < level.res.size(); ++j) {
      h = level.res[j](h, temb);
      if (level.attn[j]) h = level.attn[j](h);
      skips.push_back(h);
    }
    if (level.down) {
      h = level.down(h);  // [B, C, H/2, W/2]
      skips.push_back(h);
    }
  }
  h = mid_res2_(mid_attn_(mid_res1_(h, temb)), temb);
  for (auto& level : up_levels_) {
    for (size_t j = 0; j < level.res.size(); ++j) {
      h = level.res[j](torch::cat({h, skips.back()}, 1),
                       temb);  // [B, C + skip, H, W] → [B, C', H, W]
      skips.pop_back();
      if (level.attn[j]) h = level.attn[j](h);
    }
    if (level.up) h = level.up(h);  // [B, C, 2H, 2W]
  }
  return conv_out_(norm_silu(norm_out_, h));  // [B, in_channels, H, W]
}

int64_t count_parameters(torch::nn::Module& module) {
  int64_t total = 0;
  for (const auto& p : module.parameters()) total += p.numel();
  return total;
}

}  // namespace ddpm
