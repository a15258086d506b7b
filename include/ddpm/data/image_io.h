// Image decode/encode (stb), channel conversion, resize + centre-crop, and tensor ↔ image grids.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ddpm {

// 8-bit pixels, row-major, channels interleaved (HWC).
struct Image {
  int width = 0;
  int height = 0;
  int channels = 0;
  std::vector<uint8_t> pixels;
};

using PngText = std::vector<std::pair<std::string, std::string>>;

// Larger images are refused before decoding (a tiny file can declare gigapixels).
constexpr int64_t kMaxImagePixels = 64'000'000;

// Decodes anything stb_image reads (PNG, JPEG, BMP, TGA, GIF first frame, …) keeping its channels.
// Throws ddpm::Error naming the file and stb's reason, or the size when above kMaxImagePixels.
Image decode_image_file(const std::string& path);
Image decode_image_memory(const uint8_t* data, size_t size, const std::string& name);

// 1 ↔ 3 channels; an alpha channel is composited onto white.
Image convert_channels(const Image& image, int channels);
// Images more elongated than this are refused by resize_center_crop.
constexpr int64_t kMaxAspectRatio = 16;
// Resizes so the short side equals `size` (antialiased Mitchell filter when shrinking) and
// centre-crops. Throws ddpm::Error naming `name` for an image more than kMaxAspectRatio times wider
// than high (or the reverse), which bounds the work per image.
Image resize_center_crop(const Image& image, int size, const std::string& name = "image");
// Crops a centred width×height window (both at most the image's).
Image center_crop(const Image& image, int width, int height);

// Encodes PNG with optional tEXt chunks; written to a temporary file then renamed over `path`.
void write_png(const std::string& path, const Image& image, const PngText& text = {});
std::vector<uint8_t> encode_png(const Image& image, const PngText& text = {});
// The tEXt chunks of a PNG file (for tests and `info`).
PngText read_png_text(const std::string& path);

// [N, C, H, W] floats in [-1, 1] → a grid with `nrow` images per row and `padding` white pixels.
Image make_grid(const torch::Tensor& images, int64_t nrow, int64_t padding = 2);
// [C, H, W] in [-1, 1] → Image (clamped, rounded).
Image tensor_to_image(const torch::Tensor& image);

}  // namespace ddpm
