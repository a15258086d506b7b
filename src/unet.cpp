#include "ddpm/unet.h"

#include <algorithm>

#include "ddpm/error.h"

namespace ddpm {

namespace nn = torch::nn;

namespace {
// Forward FLOPs per image, counting a multiply-add as 2 and leaving out normalisation, activations and
// other elementwise work (under 1% of the total for these shapes).
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

UNetImpl::UNetImpl(const ModelConfig& config) : config_(config) {
  const int64_t ch = config.base_channels;
  const int64_t temb_dim = 4 * ch;
  const int64_t groups = config.num_groups;
  const auto& mults = config.channel_mults;
  const int64_t levels = static_cast<int64_t>(mults.size());
  auto has_attention = [&](int64_t resolution) {
    const auto& r = config.attention_resolutions;
    return std::find(r.begin(), r.end(), resolution) != r.end();
  };
  auto name = [](const char* path, int64_t level, const char* kind, int64_t index) {
    return std::string(path) + std::to_string(level) + "_" + kind +
           (index >= 0 ? "_" + std::to_string(index) : "");
  };

  time_embed_ = register_module("time_embed", TimeEmbedding(ch, temb_dim));
  flops_ = 2.0 * (ch * temb_dim + temb_dim * temb_dim);
  if (config.num_classes > 0) {
    // One extra row: the "null" class used for classifier-free guidance.
    class_embed_ = register_module(
        "class_embed", nn::Embedding(nn::EmbeddingOptions(config.num_classes + 1, temb_dim)));
  }
  conv_in_ = register_module("conv_in", conv3x3(config.in_channels, ch));
  flops_ += conv_flops(config.in_channels, ch, 3, config.image_size);

  // Down path: the channel count of every tensor pushed onto the skip stack, in push order.
  std::vector<int64_t> skip_channels = {ch};
  int64_t cur = ch, resolution = config.image_size;
  for (int64_t i = 0; i < levels; ++i) {
    Level level;
    const int64_t out = ch * mults[i];
    for (int64_t j = 0; j < config.num_res_blocks; ++j) {
      level.res.push_back(register_module(name("down", i, "res", j),
                                          ResBlock(cur, out, temb_dim, config.dropout, groups)));
      flops_ += res_block_flops(cur, out, temb_dim, resolution);
      cur = out;
      if (has_attention(resolution)) flops_ += attention_flops(cur, resolution);
      level.attn.push_back(has_attention(resolution)
                               ? register_module(name("down", i, "attn", j),
                                                 AttentionBlock(cur, config.num_heads, groups))
                               : AttentionBlock(nullptr));
      skip_channels.push_back(cur);
    }
    if (i + 1 < levels) {
      level.down = register_module(name("down", i, "downsample", -1), Downsample(cur));
      skip_channels.push_back(cur);
      resolution /= 2;
      flops_ += conv_flops(cur, cur, 3, resolution);
    }
    down_levels_.push_back(std::move(level));
  }

  mid_res1_ = register_module("mid_res1", ResBlock(cur, cur, temb_dim, config.dropout, groups));
  mid_attn_ = register_module("mid_attn", AttentionBlock(cur, config.num_heads, groups));
  mid_res2_ = register_module("mid_res2", ResBlock(cur, cur, temb_dim, config.dropout, groups));
  flops_ += 2 * res_block_flops(cur, cur, temb_dim, resolution) + attention_flops(cur, resolution);

  // Up path: one more res block per level than on the way down, each consuming one skip.
  for (int64_t i = levels - 1; i >= 0; --i) {
    Level level;
    const int64_t out = ch * mults[i];
    for (int64_t j = 0; j <= config.num_res_blocks; ++j) {
      const int64_t skip = skip_channels.back();
      skip_channels.pop_back();
      level.res.push_back(register_module(
          name("up", i, "res", j), ResBlock(cur + skip, out, temb_dim, config.dropout, groups)));
      flops_ += res_block_flops(cur + skip, out, temb_dim, resolution);
      cur = out;
      if (has_attention(resolution)) flops_ += attention_flops(cur, resolution);
      level.attn.push_back(has_attention(resolution)
                               ? register_module(name("up", i, "attn", j),
                                                 AttentionBlock(cur, config.num_heads, groups))
                               : AttentionBlock(nullptr));
    }
    if (i > 0) {
      level.up = register_module(name("up", i, "upsample", -1), Upsample(cur));
      resolution *= 2;
      flops_ += conv_flops(cur, cur, 3, resolution);
    }
    up_levels_.push_back(std::move(level));
  }

  norm_out_ = register_module("norm_out", nn::GroupNorm(nn::GroupNormOptions(groups, cur)));
  conv_out_ = register_module("conv_out", conv3x3(cur, config.in_channels));
  flops_ += conv_flops(cur, config.in_channels, 3, resolution);
  zero_init(conv_out_);
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
      h = level.res[j](torch::cat({h, skips.back()}, 1), temb);  // [B, C + skip, H, W] → [B, C', H, W]
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
