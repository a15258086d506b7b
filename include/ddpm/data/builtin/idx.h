// IDX files (the MNIST family's format), plain or gzip-compressed, and the Fashion-MNIST data set
// from Debian's dataset-fashion-mnist package as image folders.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ddpm {

inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// An unsigned-byte IDX array: magic 0x0000 08 NDIM, NDIM big-endian uint32 sizes, then the bytes.
struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;
};

// Parses IDX bytes; `name` stands for the file in errors (wrong magic, not unsigned bytes, sizes
// that do not match the length: truncated or corrupt).
IdxArray parse_idx(const std::vector<uint8_t>& bytes, const std::string& name);
// Reads a file, gunzipping it when it starts with the gzip magic (zlib), and parses it.
IdxArray read_idx(const std::string& path);

// The ten classes in label order (0 = T-shirt/top ... 9 = Ankle boot), as folder names.
const std::vector<std::string>& fashion_mnist_classes();

// Writes <out>/train/<class>/NNNNN.png (60,000) and <out>/test/<class>/NNNNN.png (10,000), 28×28
// grey, from the IDX files in `source`. Returns the number of images written.
int64_t extract_fashion_mnist(const std::string& source, const std::string& out);

}  // namespace ddpm
