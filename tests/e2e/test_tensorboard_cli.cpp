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

// --- an independent reader ---
uint32_t bitwise_crc32c(const uint8_t* p, size_t n) {
  uint32_t crc = ~0u;
  for (size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
  }
  return ~crc;
}
uint32_t mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xA282EAD8u; }

struct Field {
  int number = 0;
  int wire = 0;
  uint64_t value = 0;  // varint / fixed
  std::string bytes;   // length-delimited
};

std::vector<Field> fields(const std::string& msg) {
  std::vector<Field> out;
  size_t i = 0;
  auto varint = [&]() {
    uint64_t v = 0;
    for (int shift = 0; i < msg.size(); shift += 7) {
      const auto b = static_cast<uint8_t>(msg[i++]);
      v |= uint64_t{b & 0x7Fu} << shift;
      if (!(b & 0x80)) break;
    }
    return v;
  };
  while (i < msg.size()) {
    Field f;
    const uint64_t key = varint();
    f.number = static_cast<int>(key >> 3);
    f.wire = static_cast<int>(key & 7);
    if (f.wire == 0) {
      f.value = varint();
    } else if (f.wire == 1 || f.wire == 5) {
      const size_t n = f.wire == 1 ? 8 : 4;
      std::memcpy(&f.value, msg.data() + i, n);
      i += n;
    } else if (f.wire == 2) {
      const uint64_t n = varint();
      f.bytes = msg.substr(i, n);
      i += n;
    } else {
      ADD_FAILURE() << "unexpected wire type " << f.wire;
      return out;
    }
    out.push_back(f);
  }
  return out;
}

struct Seen {
  std::map<std::string, std::vector<int64_t>> steps;  // tag -> steps, in file order
  int versions = 0;
  int records = 0;
};

void read_event_file(const std::string& path, Seen& seen) {
  const std::string b = test::read_file(path);
  std::map<std::string, int64_t> last_step;  // within one file, no tag's step goes back
  size_t pos = 0;
  while (pos < b.size()) {
    ASSERT_LE(pos + 12, b.size()) << path;
    uint64_t length;
    uint32_t length_crc, data_crc;
    std::memcpy(&length, b.data() + pos, 8);
    std::memcpy(&length_crc, b.data() + pos + 8, 4);
    ASSERT_EQ(length_crc,
              mask(bitwise_crc32c(reinterpret_cast<const uint8_t*>(b.data() + pos), 8)));
    ASSERT_LE(pos + 12 + length + 4, b.size());
    const std::string data = b.substr(pos + 12, length);
    std::memcpy(&data_crc, b.data() + pos + 12 + length, 4);
    ASSERT_EQ(data_crc,
              mask(bitwise_crc32c(reinterpret_cast<const uint8_t*>(data.data()), data.size())));
    pos += 12 + length + 4;
    ++seen.records;
    int64_t step = 0;
    for (const auto& f : fields(data)) {
      if (f.number == 2) step = static_cast<int64_t>(f.value);
      if (f.number == 3) {
        EXPECT_EQ(f.bytes, "brain.Event:2");
        ++seen.versions;
      }
      if (f.number != 5) continue;
      for (const auto& value : fields(f.bytes)) {  // Summary.value
        std::string tag;
        bool has_payload = false;
        for (const auto& v : fields(value.bytes)) {
          if (v.number == 1) tag = v.bytes;
          if (v.number == 2) {
            float x;
            std::memcpy(&x, &v.value, 4);
            EXPECT_TRUE(std::isfinite(x)) << tag;
            has_payload = true;
          }
          if (v.number == 4) {  // Image: height, width, colorspace, PNG bytes
            int64_t h = 0, w = 0;
            std::string png;
            for (const auto& im : fields(v.bytes)) {
              if (im.number == 1) h = static_cast<int64_t>(im.value);
              if (im.number == 2) w = static_cast<int64_t>(im.value);
              if (im.number == 4) png = im.bytes;
            }
            EXPECT_GT(h, 0);
            EXPECT_GT(w, 0);
            EXPECT_EQ(png.substr(1, 3), "PNG");
            has_payload = true;
          }
        }
        EXPECT_TRUE(has_payload) << tag;
        EXPECT_GT(step, last_step.count(tag) ? last_step[tag] : 0) << tag;
        last_step[tag] = step;
        seen.steps[tag].push_back(step);
      }
    }
  }
}

TEST(TensorBoard, ARunsEventFilesHoldEveryScalarAndPreviewAcrossAResume) {
  test::TempDir dir;
  test::make_emoji_folder(dir / "emoji", 16);
  const std::string extra =
      "--set train.log_every=1 --set train.preview_every=2 --set train.preview_n=4 "
      "--set train.eval_every=2 --set train.eval_images=4 --set train.eval_bpd_subset=2 "
      "--set data.heldout_path='" +
      (dir / "emoji") + "' ";
  auto r = test::run_ddpm(
      test::tiny_train_args(dir / "run", dir / "emoji", extra + "--set train.steps=4"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_ddpm(
      test::tiny_train_args(dir / "run", dir / "emoji", extra + "--set train.steps=6 --resume"));
  ASSERT_EQ(r.exit_code, 0) << r.err;

  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir.path() / "run")) {
    if (e.path().filename().string().rfind("events.out.tfevents.", 0) == 0)
      files.push_back(e.path().string());
  }
  ASSERT_EQ(files.size(), 2u);  // one per process: the run and its resume
  std::sort(files.begin(), files.end());
  Seen seen;
  for (const auto& f : files) read_event_file(f, seen);
  EXPECT_EQ(seen.versions, 2);
  for (auto& [tag, steps] : seen.steps) std::sort(steps.begin(), steps.end());
  const std::vector<int64_t> every = {1, 2, 3, 4, 5, 6}, even = {2, 4, 6};
  for (const char* tag : {"train/loss", "train/lr", "train/grad_norm", "train/images_per_sec",
                          "train/nonfinite_skipped"}) {
    EXPECT_EQ(seen.steps[tag], every) << tag;
  }
  EXPECT_EQ(seen.steps["preview/ema"], even);
  EXPECT_EQ(seen.steps["heldout/heldout_loss"], even);
  EXPECT_EQ(seen.steps["heldout/heldout_loss_ema"], even);
  EXPECT_EQ(seen.steps["heldout/heldout_bpd_ema"], even);

  // train.tensorboard=false writes none.
  r = test::run_ddpm(test::tiny_train_args(dir / "off", dir / "emoji",
                                           "--set train.steps=1 --set train.tensorboard=false"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const auto& e : fs::directory_iterator(dir.path() / "off")) {
    EXPECT_EQ(e.path().filename().string().find("tfevents"), std::string::npos);
  }
}

}  // namespace
}  // namespace ddpm
