#include "ddpm/base/crc.h"

#include <array>

namespace ddpm {
namespace {

using Table = std::array<uint32_t, 256>;

Table crc_table(uint32_t reflected_polynomial) {
  Table t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? reflected_polynomial ^ (c >> 1) : c >> 1;
    t[i] = c;
  }
  return t;
}

uint32_t update(const Table& table, const uint8_t* data, size_t size, uint32_t crc) {
  crc = ~crc;
  for (size_t i = 0; i < size; ++i) crc = table[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

}  // namespace

uint32_t crc32(const uint8_t* data, size_t size, uint32_t crc) {
  static const Table table = crc_table(0xEDB88320u);
  return update(table, data, size, crc);
}

uint32_t crc32c(const uint8_t* data, size_t size) {
  static const Table table = crc_table(0x82F63B78u);
  return update(table, data, size, 0);
}

}  // namespace ddpm
