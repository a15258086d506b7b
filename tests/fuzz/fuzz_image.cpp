// libFuzzer target: image decoding (stb behind decode_image_memory), channel conversion and the
// resize/crop the data loader applies, on arbitrary bytes.
#include <cstdint>

#include "ddpm/base/error.h"
#include "ddpm/data/image_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    ddpm::Image image = ddpm::decode_image_memory(data, size, "fuzz");
    for (int channels : {1, 3}) {
      ddpm::Image converted = ddpm::convert_channels(image, channels);
      ddpm::resize_center_crop(converted, 16);
    }
  } catch (const ddpm::Error&) {
  }
  return 0;
}
