// Fixed-width integers in files: big-endian in the formats of others (PNG chunks, IDX, OpenType
// tables), little-endian in ours and in safetensors and TensorBoard records. The little-endian
// helpers copy bytes as they are: every host we build for (x86-64, aarch64) is little-endian.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

namespace ddpm {

inline uint16_t read_be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

inline uint32_t read_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

inline void append_be32(std::vector<uint8_t>& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(v >> s));
}

template <class T>
T read_le(const uint8_t* p) {
  static_assert(std::is_trivially_copyable_v<T>);
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// Appends v's bytes to a byte vector or a string.
template <class T, class Buffer>
void append_le(Buffer& out, T v) {
  static_assert(std::is_trivially_copyable_v<T>);
  const auto* p = reinterpret_cast<const typename Buffer::value_type*>(&v);
  out.insert(out.end(), p, p + sizeof(T));
}

}  // namespace ddpm
