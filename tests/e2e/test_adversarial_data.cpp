// Issue 15, through the real binary: data folders with entries that cannot be read, absurdly shaped
// images, and data caches that no longer match. A bad entry is skipped with a warning and the run
// goes on; a cache that does not match is not used.
#include <gtest/gtest.h>
#include <stb_image_write.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "test_util.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;
using test::run_ddpm;

class AdversarialData : public ::testing::Test {
 protected:
  void SetUp() override { test::make_emoji_folder(dir_ / "data", 12); }
  test::CommandResult train(const std::string& extra = "") {
    const std::string run = dir_ / ("run" + std::to_string(runs_++));
    return run_ddpm(test::tiny_train_args(run, dir_ / "data", "--set train.steps=1 " + extra));
  }
  test::TempDir dir_;
  int runs_ = 0;
};

TEST_F(AdversarialData, UnreadableEntriesAreSkippedWithAWarning) {
  fs::create_symlink("loop.png", dir_.path() / "data/loop.png");         // a symlink loop
  fs::create_symlink("nowhere.png", dir_.path() / "data/dangling.png");  // a dangling link
  fs::create_directory_symlink(".", dir_.path() / "data/self");  // a folder loop (not followed)
  const auto r = train();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("warning: skipping " + (dir_ / "data/loop.png") +
                       ": Too many levels of symbolic links"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("data: 12 images"), std::string::npos) << r.err;
}

TEST_F(AdversarialData, AbsurdlyShapedImagesAreSkippedWithAWarning) {
  // 1 x 16,000,000 pixels: legal by the megapixel cap, but resizing its short side to 16 px would
  // make it 256 million pixels long.
  std::vector<uint8_t> row(16'000'000, 128);
  ASSERT_NE(stbi_write_png((dir_ / "data/line.png").c_str(), 16'000'000, 1, 1, row.data(), 0), 0);
  std::vector<uint8_t> column(20'000, 50);
  ASSERT_NE(stbi_write_png((dir_ / "data/column.png").c_str(), 1, 20'000, 1, column.data(), 1), 0);
  std::vector<uint8_t> wide(16 * 256 * 3, 200);  // 16:1 exactly is still accepted
  ASSERT_NE(stbi_write_png((dir_ / "data/wide.png").c_str(), 256, 16, 3, wide.data(), 256 * 3), 0);
  const auto r = train();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("line.png: image is 16000000x1, more than 16 times wider than high"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("column.png: image is 1x20000"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("data: 13 images"), std::string::npos) << r.err;  // 12 emoji + wide.png
}

// Overwrites `size` bytes at `offset` of the file.
void patch(const std::string& path, size_t offset, const void* bytes, size_t size) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(static_cast<const char*>(bytes), static_cast<std::streamsize>(size));
}

TEST_F(AdversarialData, ADataCacheThatDoesNotMatchIsNotUsed) {
  ASSERT_EQ(train().exit_code, 0);
  const std::string cache = dir_ / "data/.ddpm-cache-16-3.bin";
  ASSERT_TRUE(fs::exists(cache));
  const std::string original = test::read_file(cache);
  auto r = train();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("images from cache"), std::string::npos) << r.err;

  struct Case {
    size_t offset;
    int64_t value;
    std::string reason;
  };
  // Header: magic 8, key 8, then n, c, h, w, skipped, names (int64 each); the labels follow.
  for (const Case& c : std::vector<Case>{
           {32, 8, "it holds 16x8x3 images, the model needs 16x16x3"},  // h
           {24, 1, "it holds 16x16x1 images"},                          // c
           {16, 1000000, "its image counts (1000000 images"},           // n
           {16, 5, "its length does not match its header"},             // n smaller than stored
           {56, 3, "it has 3 classes, the folder 0"},                   // names
           {64, 7, "a label lies outside its 1 classes"},               // first label
       }) {
    test::write_file(cache, original);
    patch(cache, c.offset, &c.value, 8);
    r = train();
    ASSERT_EQ(r.exit_code, 0) << c.reason << "\n" << r.err;
    EXPECT_NE(r.err.find("warning: data cache " + cache + " not used (" + c.reason),
              std::string::npos)
        << c.reason << "\n"
        << r.err;
    EXPECT_NE(r.err.find("data: 12 images from " + (dir_ / "data")), std::string::npos) << r.err;
  }
  test::write_file(cache, original.substr(0, original.size() - 1));  // truncated
  r = train();
  EXPECT_NE(r.err.find("its length does not match its header"), std::string::npos) << r.err;
  test::write_file(cache, original.substr(0, 20));
  r = train();
  EXPECT_NE(r.err.find("its header is truncated"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace ddpm
