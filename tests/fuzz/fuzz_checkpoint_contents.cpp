// libFuzzer target: what lies behind a checkpoint's checksum. The first input byte picks a mode:
//  - even: the rest is the metadata JSON of a checkpoint with valid weights and a correct CRC, so
//    mutations reach the embedded config, the counts and the class list (the plain checkpoint
//    target mostly breaks the layout instead);
//  - odd: the rest describes the network whose tensors are saved (width, depth, levels, attention,
//    dtype, a renamed or extra tensor, a NaN), under the metadata of the network that loads them:
//    the tensor table's names, shapes, dtypes and values.
// Property: opening and loading either succeed or throw ddpm::Error. A c10::Error escaping would be
// a raw LibTorch message for the user: libFuzzer reports it as a crash.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "ddpm/base/crc.h"
#include "ddpm/base/error.h"
#include "ddpm/data/image_io.h"
#include "ddpm/io/checkpoint.h"
#include "ddpm/model/unet.h"

namespace {

ddpm::Config base_config() {
  ddpm::Config c;
  c.model.image_size = 8;
  c.model.in_channels = 1;
  c.model.base_channels = 8;
  c.model.channel_mults = {1, 2};
  c.model.num_res_blocks = 1;
  c.model.attention_resolutions = {4};
  c.model.num_heads = 2;
  c.model.num_groups = 4;
  c.model.dropout = 0.0;
  c.diffusion.timesteps = 10;
  return c;
}

std::vector<uint8_t> save(const ddpm::CheckpointMeta& meta, torch::nn::Module& module) {
  ddpm::CheckpointParts parts;
  parts.model = &module;
  parts.ema = &module;
  parts.rng = false;
  return ddpm::serialize_checkpoint(meta, parts);
}

// Replaces the metadata section and recomputes the lengths and the CRC.
std::vector<uint8_t> with_meta(const std::vector<uint8_t>& b, const uint8_t* text, size_t size) {
  ddpm::CheckpointLayout at;
  ddpm::checkpoint_layout(b.data(), b.size(), at);
  std::vector<uint8_t> out(b.begin(), b.begin() + 16);
  const uint64_t meta_len = size, payload_len = at.payload_len;
  out.insert(out.end(), reinterpret_cast<const uint8_t*>(&meta_len),
             reinterpret_cast<const uint8_t*>(&meta_len) + 8);
  out.insert(out.end(), text, text + size);
  out.insert(out.end(), reinterpret_cast<const uint8_t*>(&payload_len),
             reinterpret_cast<const uint8_t*>(&payload_len) + 8);
  out.insert(out.end(), b.begin() + static_cast<std::ptrdiff_t>(at.payload_pos),
             b.begin() + static_cast<std::ptrdiff_t>(at.payload_pos + at.payload_len));
  const uint32_t crc = ddpm::crc32(out.data(), out.size());
  out.insert(out.end(), reinterpret_cast<const uint8_t*>(&crc),
             reinterpret_cast<const uint8_t*>(&crc) + 4);
  return out;
}

void open_and_load(const std::vector<uint8_t>& bytes) {
  const auto ckpt = ddpm::Checkpoint::from_bytes(bytes, "fuzz.pt");
  const auto& m = ckpt.meta().config.model;
  // Only small networks: the fuzzer must not spend its time allocating CIFAR-sized UNets.
  if (m.base_channels > 32 || m.image_size > 32 || m.channel_mults.size() > 3 ||
      m.num_res_blocks > 2)
    return;
  for (int64_t mult : m.channel_mults) {
    if (mult > 4) return;
  }
  ddpm::UNet model(m);
  ckpt.load_module("ema", *model, torch::kCPU);
}

// The network described by the input bytes (each byte picks one property).
ddpm::UNet described(const uint8_t* d, size_t n) {
  auto byte = [&](size_t i) { return i < n ? d[i] : uint8_t{0}; };
  ddpm::Config c = base_config();
  const int64_t widths[] = {8, 4, 16};
  c.model.base_channels = widths[byte(0) % 3];
  if (byte(1) % 2) c.model.channel_mults = {1};
  c.model.num_res_blocks = 1 + byte(2) % 2;
  if (byte(3) % 2) c.model.attention_resolutions = {};
  if (byte(4) % 2) c.model.in_channels = 3;
  c.model.num_classes = byte(5) % 3;
  ddpm::UNet net(c.model);
  const auto dtypes = {torch::kFloat32, torch::kFloat64, torch::kFloat16, torch::kBFloat16};
  net->to(*(dtypes.begin() + byte(6) % 4));  // Module::to takes floating types only
  if (byte(7) % 4 == 1)
    net->register_parameter("extra_" + std::to_string(byte(8)), torch::zeros({byte(8) % 5}));
  if (byte(7) % 4 == 2 && net->parameters()[0].is_floating_point()) {
    torch::NoGradGuard no_grad;
    net->parameters()[byte(8) % net->parameters().size()].view(-1)[0] = std::nan("");
  }
  return net;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static ddpm::CheckpointMeta meta = [] {
    ddpm::CheckpointMeta m;
    m.config = base_config();
    return m;
  }();
  static ddpm::UNet reference(meta.config.model);
  static const std::vector<uint8_t> good = save(meta, *reference);
  if (size == 0) return 0;
  try {
    if (data[0] % 2 == 0) {
      open_and_load(with_meta(good, data + 1, size - 1));
    } else {
      auto net = described(data + 1, size - 1);
      open_and_load(save(meta, *net));
    }
  } catch (const ddpm::Error&) {
  }
  return 0;
}
