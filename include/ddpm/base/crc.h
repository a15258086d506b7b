// Reflected table-driven CRCs: CRC-32 (zlib/PNG polynomial, for checkpoints, PNG chunks and cache
// keys) and CRC-32C (Castagnoli, for TensorBoard's TFRecord framing).
#pragma once
#include <cstddef>
#include <cstdint>

namespace ddpm {

// CRC-32 of `data`, continuing from `crc` (0 to start).
uint32_t crc32(const uint8_t* data, size_t size, uint32_t crc = 0);
uint32_t crc32c(const uint8_t* data, size_t size);

}  // namespace ddpm
