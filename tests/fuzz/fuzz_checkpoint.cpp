// libFuzzer target: the checkpoint reader. The CRC-32 would stop almost every mutation at the first
// check, so when the input's length fields fit, the checksum is recomputed and the mutation reaches
// the metadata JSON, the embedded config and the LibTorch archive behind it.
#include <c10/util/Exception.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "ddpm/base/crc.h"
#include "ddpm/base/error.h"
#include "ddpm/data/image_io.h"
#include "ddpm/io/checkpoint.h"
#include "ddpm/model/unet.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> bytes(data, data + size);
  ddpm::CheckpointLayout at;
  if (ddpm::checkpoint_layout(bytes.data(), bytes.size(), at)) {
    const uint32_t crc = ddpm::crc32(bytes.data(), at.crc_pos);
    std::memcpy(bytes.data() + at.crc_pos, &crc, 4);
  }
  try {
    ddpm::Checkpoint ckpt = ddpm::Checkpoint::from_bytes(bytes, "fuzz.pt");
    const auto& model_config = ckpt.meta().config.model;
    // Only small models: the fuzzer must not spend its time allocating CIFAR-sized UNets.
    if (model_config.base_channels <= 32 && model_config.image_size <= 32 && ckpt.has("ema")) {
      ddpm::validate(ckpt.meta().config);
      ddpm::UNet model(model_config);
      ckpt.load_module("ema", *model, torch::kCPU);
    }
  } catch (const ddpm::Error&) {
  } catch (const c10::Error&) {
  }
  return 0;
}
