// The checkpoint file format: the layout the length fields describe, and that every truncation
// and every flipped byte is refused with a clear error (never read past the end, never a crash).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "ddpm/base/crc.h"
#include "ddpm/base/error.h"
#include "ddpm/data/image_io.h"
#include "ddpm/io/checkpoint.h"

namespace ddpm {
namespace {

std::vector<uint8_t> small_checkpoint() {
  CheckpointMeta meta;
  meta.step = 7;
  meta.class_names = {"cats", "dogs"};
  meta.config.model.num_classes = 2;
  CheckpointParts parts;
  parts.rng = false;
  return serialize_checkpoint(meta, parts);
}

uint64_t u64_at(const std::vector<uint8_t>& b, size_t pos) {
  uint64_t v;
  std::memcpy(&v, b.data() + pos, 8);
  return v;
}

TEST(CheckpointFormat, LayoutMatchesTheWrittenSections) {
  const auto bytes = small_checkpoint();
  CheckpointLayout at;
  ASSERT_TRUE(checkpoint_layout(bytes.data(), bytes.size(), at));
  EXPECT_EQ(std::string(bytes.begin(), bytes.begin() + 8), "DDPMCKPT");
  EXPECT_EQ(at.meta_pos, 24u);
  EXPECT_EQ(at.meta_len, u64_at(bytes, 16));
  EXPECT_EQ(bytes[at.meta_pos], '{');  // the metadata is a JSON object
  EXPECT_EQ(bytes[at.meta_pos + at.meta_len - 1], '}');
  EXPECT_EQ(at.payload_pos, 24 + at.meta_len + 8);
  EXPECT_EQ(at.payload_len, u64_at(bytes, 24 + at.meta_len));
  EXPECT_EQ(at.crc_pos + 4, bytes.size());  // the CRC is the last four bytes
  uint32_t crc;
  std::memcpy(&crc, bytes.data() + at.crc_pos, 4);
  EXPECT_EQ(crc, crc32(bytes.data(), at.crc_pos));
  const Checkpoint ckpt = Checkpoint::from_bytes(bytes, "mem.pt");
  EXPECT_EQ(ckpt.meta().step, 7);
  EXPECT_EQ(ckpt.meta().class_names, (std::vector<std::string>{"cats", "dogs"}));
}

TEST(CheckpointFormat, EveryTruncationIsRefusedAsTruncated) {
  const auto bytes = small_checkpoint();
  for (size_t n = 1; n < bytes.size(); ++n) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
    CheckpointLayout at;
    EXPECT_FALSE(checkpoint_layout(cut.data(), cut.size(), at)) << n;
    try {
      Checkpoint::from_bytes(cut, "cut.pt");
      ADD_FAILURE() << "a checkpoint cut to " << n << " bytes was accepted";
    } catch (const Error& e) {
      const std::string what = e.what();
      const bool named = what.find("truncated") != std::string::npos ||
                         (n < 8 && what.find("not a ddpm checkpoint") != std::string::npos);
      EXPECT_TRUE(named) << n << ": " << what;
    }
  }
}

TEST(CheckpointFormat, EveryFlippedByteIsRefused) {
  const auto bytes = small_checkpoint();
  for (size_t i = 0; i < bytes.size(); ++i) {
    auto bad = bytes;
    bad[i] ^= 0x5a;
    EXPECT_THROW(Checkpoint::from_bytes(bad, "flip.pt"), Error) << "byte " << i;
  }
}

}  // namespace
}  // namespace ddpm
