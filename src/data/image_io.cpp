#include "ddpm/data/image_io.h"

#include <stb_image.h>
#include <stb_image_resize.h>
#include <stb_image_write.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <fstream>

#include "ddpm/base/atomic_file.h"
#include "ddpm/base/bytes.h"
#include "ddpm/base/crc.h"
#include "ddpm/base/error.h"
#include "ddpm/base/file_input.h"

namespace ddpm {

Image decode_image_memory(const uint8_t* data, size_t size, const std::string& name) {
  if (size == 0) throw Error(name + ": empty file");
  if (size > static_cast<size_t>(INT32_MAX)) throw Error(name + ": file too large to decode");
  int w = 0, h = 0, c = 0;
  // The header alone can promise a huge image (a 22-byte RLE TGA declares 23551×33023): check the
  // size before decoding so that such a file is an error, not gigabytes of memory.
  if (stbi_info_from_memory(data, static_cast<int>(size), &w, &h, &c) &&
      static_cast<int64_t>(w) * h > kMaxImagePixels) {
    throw Error(name + ": image is " + std::to_string(w) + "x" + std::to_string(h) + " (" +
                std::to_string(static_cast<int64_t>(w) * h / 1000000) +
                " megapixels), above the limit of " + std::to_string(kMaxImagePixels / 1000000) +
                " megapixels: downscale it or remove it");
  }
  uint8_t* pixels = stbi_load_from_memory(data, static_cast<int>(size), &w, &h, &c, 0);
  if (!pixels) throw Error(name + ": cannot decode image (" + stbi_failure_reason() + ")");
  Image image{w, h, c, std::vector<uint8_t>(pixels, pixels + static_cast<size_t>(w) * h * c)};
  stbi_image_free(pixels);
  return image;
}

Image decode_image_file(const std::string& path) {
  const auto bytes = read_file_bytes(path, "image file");
  return decode_image_memory(bytes.data(), bytes.size(), path);
}

Image convert_channels(const Image& src, int channels) {
  if (src.channels == channels) return src;
  Image out{src.width, src.height, channels, {}};
  const size_t n = static_cast<size_t>(src.width) * src.height;
  out.pixels.resize(n * channels);
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* p = &src.pixels[i * src.channels];
    float rgb[3];
    const bool grey = src.channels <= 2;
    for (int k = 0; k < 3; ++k) rgb[k] = p[grey ? 0 : k];
    const bool has_alpha = src.channels == 2 || src.channels == 4;
    if (has_alpha) {  // composite onto white
      const float a = p[src.channels - 1] / 255.0f;
      for (float& v : rgb) v = v * a + 255.0f * (1.0f - a);
    }
    uint8_t* q = &out.pixels[i * channels];
    if (channels == 1) {
      // ITU-R BT.601 luma.
      q[0] = static_cast<uint8_t>(std::lround(0.299f * rgb[0] + 0.587f * rgb[1] + 0.114f * rgb[2]));
    } else {
      for (int k = 0; k < 3; ++k) q[k] = static_cast<uint8_t>(std::lround(rgb[k]));
      if (channels == 4) q[3] = 255;
    }
  }
  return out;
}

Image center_crop(const Image& src, int width, int height) {
  Image out{width, height, src.channels, {}};
  out.pixels.resize(static_cast<size_t>(width) * height * src.channels);
  const int x0 = (src.width - width) / 2, y0 = (src.height - height) / 2;
  const size_t row = static_cast<size_t>(width) * src.channels;
  for (int y = 0; y < height; ++y) {
    std::memcpy(&out.pixels[y * row],
                &src.pixels[(static_cast<size_t>(y0 + y) * src.width + x0) * src.channels], row);
  }
  return out;
}

Image resize_center_crop(const Image& src, int size, const std::string& name) {
  // The resize scales the short side to `size`: the long side's work grows with the aspect ratio.
  const int64_t long_side = std::max(src.width, src.height),
                short_side = std::min(src.width, src.height);
  if (short_side < 1 || long_side > kMaxAspectRatio * short_side) {
    throw Error(name + ": image is " + std::to_string(src.width) + "x" +
                std::to_string(src.height) + ", more than " + std::to_string(kMaxAspectRatio) +
                " times wider than high or " +
                "the reverse: its centre crop would keep almost nothing; crop it or remove it");
  }
  const double scale = static_cast<double>(size) / std::min(src.width, src.height);
  const int w = std::max(size, static_cast<int>(std::lround(src.width * scale)));
  const int h = std::max(size, static_cast<int>(std::lround(src.height * scale)));
  Image resized = src;
  if (w != src.width || h != src.height) {
    resized =
        Image{w, h, src.channels, std::vector<uint8_t>(static_cast<size_t>(w) * h * src.channels)};
    // stb picks a filter with proper support for downsampling (Mitchell, antialiased) and
    // upsampling (Catmull-Rom); values are filtered as stored, like PIL and torchvision.
    if (!stbir_resize_uint8(src.pixels.data(), src.width, src.height, 0, resized.pixels.data(), w,
                            h, 0, src.channels)) {
      throw Error("image resize failed");
    }
  }
  return center_crop(resized, size, size);
}

namespace {

std::vector<uint8_t> text_chunk(const std::string& key, const std::string& value) {
  std::vector<uint8_t> body = {'t', 'E', 'X', 't'};
  body.insert(body.end(), key.begin(), key.end());
  body.push_back(0);
  body.insert(body.end(), value.begin(), value.end());
  std::vector<uint8_t> chunk;
  append_be32(chunk, static_cast<uint32_t>(body.size() - 4));
  chunk.insert(chunk.end(), body.begin(), body.end());
  append_be32(chunk, crc32(body.data(), body.size()));
  return chunk;
}

}  // namespace

std::vector<uint8_t> encode_png(const Image& image, const PngText& text) {
  std::vector<uint8_t> bytes;
  auto append = [](void* out, void* data, int size) {
    auto& sink = *static_cast<std::vector<uint8_t>*>(out);
    const auto* p = static_cast<const uint8_t*>(data);
    sink.insert(sink.end(), p, p + size);
  };
  if (!stbi_write_png_to_func(append, &bytes, image.width, image.height, image.channels,
                              image.pixels.data(), image.width * image.channels) ||
      bytes.size() < 33) {
    throw Error("PNG encoding failed");
  }
  // Insert tEXt chunks right after IHDR (8-byte signature + 25-byte IHDR chunk).
  std::vector<uint8_t> chunks;
  for (const auto& [key, value] : text) {
    auto c = text_chunk(key, value);
    chunks.insert(chunks.end(), c.begin(), c.end());
  }
  bytes.insert(bytes.begin() + 33, chunks.begin(), chunks.end());
  return bytes;
}

void write_png(const std::string& path, const Image& image, const PngText& text) {
  auto bytes = encode_png(image, text);
  write_file_atomically(path, bytes.data(), bytes.size());
}

PngText read_png_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  PngText text;
  size_t pos = 8;
  while (pos + 12 <= b.size()) {
    const uint32_t len = read_be32(&b[pos]);
    if (pos + 12 + len > b.size()) break;
    if (std::memcmp(&b[pos + 4], "tEXt", 4) == 0) {
      std::string body(b.begin() + pos + 8, b.begin() + pos + 8 + len);
      auto zero = body.find('\0');
      if (zero != std::string::npos) text.emplace_back(body.substr(0, zero), body.substr(zero + 1));
    }
    pos += 12 + len;
  }
  return text;
}

Image tensor_to_image(const torch::Tensor& image) {
  auto hwc = ((image.detach().to(torch::kCPU, torch::kFloat32).clamp(-1, 1) + 1) * 127.5)
                 .round()
                 .to(torch::kUInt8)
                 .permute({1, 2, 0})
                 .contiguous();  // [H, W, C]
  Image out{static_cast<int>(hwc.size(1)),
            static_cast<int>(hwc.size(0)),
            static_cast<int>(hwc.size(2)),
            {}};
  out.pixels.assign(hwc.data_ptr<uint8_t>(), hwc.data_ptr<uint8_t>() + hwc.numel());
  return out;
}

Image make_grid(const torch::Tensor& images, int64_t nrow, int64_t padding) {
  const int64_t n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  nrow = std::max<int64_t>(1, std::min(nrow, n));
  const int64_t rows = (n + nrow - 1) / nrow;
  const int64_t gw = nrow * (w + padding) + padding, gh = rows * (h + padding) + padding;
  Image grid{static_cast<int>(gw), static_cast<int>(gh), static_cast<int>(c),
             std::vector<uint8_t>(static_cast<size_t>(gw * gh * c), 255)};
  for (int64_t i = 0; i < n; ++i) {
    Image tile = tensor_to_image(images[i]);
    const int64_t x0 = padding + (i % nrow) * (w + padding),
                  y0 = padding + (i / nrow) * (h + padding);
    for (int64_t y = 0; y < h; ++y) {
      std::memcpy(&grid.pixels[((y0 + y) * gw + x0) * c], &tile.pixels[y * w * c], w * c);
    }
  }
  return grid;
}

}  // namespace ddpm
