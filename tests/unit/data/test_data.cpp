#include <gtest/gtest.h>
#include <stb_image_write.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <numeric>
#include <set>
#include <sstream>

#include "ddpm/base/error.h"
#include "ddpm/data/batch_sampler.h"
#include "ddpm/data/class_balance.h"
#include "ddpm/data/image_folder.h"
#include "ddpm/data/image_io.h"
#include "test_util.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;

Image pattern(int w, int h, int c, int seed) {
  Image im{w, h, c, std::vector<uint8_t>(static_cast<size_t>(w) * h * c)};
  for (size_t i = 0; i < im.pixels.size(); ++i)
    im.pixels[i] = static_cast<uint8_t>(i * 7 + seed * 31);
  return im;
}

// Two classes with mixed formats, modes and sizes, plus one truncated and one empty file.
void make_mixed_folder(const std::string& root) {
  fs::create_directories(root + "/cats");
  fs::create_directories(root + "/dogs/nested");
  write_png(root + "/cats/a.png", pattern(37, 23, 4, 1));  // RGBA, odd size
  write_png(root + "/cats/b.png", pattern(16, 16, 1, 2));  // grey
  Image rgb = pattern(50, 30, 3, 3);
  stbi_write_jpg((root + "/dogs/c.jpg").c_str(), rgb.width, rgb.height, 3, rgb.pixels.data(), 90);
  stbi_write_bmp((root + "/dogs/nested/d.bmp").c_str(), rgb.width, rgb.height, 3,
                 rgb.pixels.data());
  auto png = encode_png(pattern(20, 20, 3, 4));
  test::write_file(root + "/dogs/truncated.png",
                   std::string(png.begin(), png.begin() + static_cast<long>(png.size() / 2)));
  test::write_file(root + "/cats/zero.jpg", "");
  test::write_file(root + "/cats/notes.txt", "not an image");
}

int count_lines_with(const std::string& text, const std::string& needle) {
  std::istringstream in(text);
  int n = 0;
  for (std::string line; std::getline(in, line);) n += line.find(needle) != std::string::npos;
  return n;
}

TEST(Data, MixedFolderWithClassesAndCorruptFiles) {
  test::TempDir dir;
  const std::string root = dir / "imgs";
  make_mixed_folder(root);
  std::ostringstream log;
  Dataset d = load_image_folder(root, {16, 3, true, false}, log);
  EXPECT_EQ(d.size(), 4);
  EXPECT_EQ(d.skipped, 2);
  EXPECT_EQ(count_lines_with(log.str(), "warning: skipping"), 2) << log.str();
  EXPECT_NE(log.str().find("truncated.png"), std::string::npos);
  EXPECT_NE(log.str().find("zero.jpg"), std::string::npos);
  EXPECT_EQ(d.class_names, (std::vector<std::string>{"cats", "dogs"}));
  EXPECT_EQ(d.images.sizes(), (std::vector<int64_t>{4, 3, 16, 16}));
  // Sorted by path: cats/a, cats/b, dogs/c, dogs/nested/d.
  EXPECT_TRUE(torch::equal(d.labels, torch::tensor({0, 0, 1, 1}, torch::kLong)));
  BatchSampler sampler(d, true, {});
  auto batch = sampler.next(4);
  EXPECT_GE(batch.images.min().item<double>(), -1.0);
  EXPECT_LE(batch.images.max().item<double>(), 1.0);
  EXPECT_EQ(batch.images.scalar_type(), torch::kFloat32);
  // The grey image became three equal channels.
  auto grey = d.images[1].to(torch::kInt);
  EXPECT_TRUE(torch::equal(grey[0], grey[1]));
  EXPECT_TRUE(torch::equal(grey[0], grey[2]));
}

TEST(Data, GreyscaleModelGetsOneChannel) {
  test::TempDir dir;
  make_mixed_folder(dir / "imgs");
  std::ostringstream log;
  Dataset d = load_image_folder(dir / "imgs", {8, 1, false, false}, log);
  EXPECT_EQ(d.images.sizes(), (std::vector<int64_t>{4, 1, 8, 8}));
  EXPECT_TRUE(d.class_names.empty());
}

TEST(Data, MissingEmptyAndAllCorruptFoldersAreErrors) {
  test::TempDir dir;
  std::ostringstream log;
  try {
    load_image_folder(dir / "nope", {16, 3, false, false}, log);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos);
  }
  fs::create_directories(dir / "empty");
  EXPECT_THROW(load_image_folder(dir / "empty", {16, 3, false, false}, log), Error);
  fs::create_directories(dir / "bad");
  test::write_file(dir / "bad/x.png", "garbage");
  try {
    load_image_folder(dir / "bad", {16, 3, false, false}, log);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("none of its 1 image files could be decoded"),
              std::string::npos);
  }
}

TEST(Data, DiskCacheIsReusedAndInvalidatedByChanges) {
  test::TempDir dir;
  make_mixed_folder(dir / "imgs");
  std::ostringstream first, second, third;
  Dataset a = load_image_folder(dir / "imgs", {16, 3, true, true}, first);
  EXPECT_TRUE(fs::exists(dir / "imgs/.ddpm-cache-16-3.bin"));
  Dataset b = load_image_folder(dir / "imgs", {16, 3, true, true}, second);
  EXPECT_NE(second.str().find("from cache"), std::string::npos);
  EXPECT_TRUE(torch::equal(a.images, b.images));
  EXPECT_TRUE(torch::equal(a.labels, b.labels));
  EXPECT_EQ(a.class_names, b.class_names);
  write_png(dir / "imgs/cats/new.png", pattern(9, 9, 3, 5));
  Dataset c = load_image_folder(dir / "imgs", {16, 3, true, true}, third);
  EXPECT_EQ(third.str().find("from cache"), std::string::npos);
  EXPECT_EQ(c.size(), 5);
}

TEST(Data, SamplerCoversEachEpochAndResumesExactly) {
  Dataset d;
  d.images = torch::arange(10, torch::kUInt8).view({10, 1, 1, 1});
  d.labels = torch::zeros({10}, torch::kLong);
  BatchSampler s(d, false, {0, 0, 123});
  std::multiset<int> seen;
  for (int i = 0; i < 5; ++i) {
    auto b = s.next(2);
    for (int64_t j = 0; j < 2; ++j) {
      seen.insert(static_cast<int>(std::lround((b.images[j].item<double>() + 1) * 127.5)));
    }
  }
  EXPECT_EQ(seen, (std::multiset<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  auto pos = s.position();
  auto expected = s.next(7);  // crosses into the next epoch
  BatchSampler resumed(d, false, pos);
  EXPECT_TRUE(torch::equal(resumed.next(7).images, expected.images));
  EXPECT_EQ(resumed.position().epoch, 1);
}

TEST(Data, RandomFlipMirrorsAboutHalfTheImages) {
  Dataset d;
  d.images = torch::zeros({200, 1, 1, 2}, torch::kUInt8);
  d.images.select(3, 0).fill_(255);  // left pixel white
  d.labels = torch::zeros({200}, torch::kLong);
  BatchSampler s(d, true, {0, 0, 1});
  auto b = s.next(200).images;
  const int64_t flipped = (b.select(3, 0) < 0).sum().item<int64_t>();
  EXPECT_GT(flipped, 60);
  EXPECT_LT(flipped, 140);
}

// The quotas against their closed form total * n_k^(1-b) / sum_j n_j^(1-b): each within one draw
// of it, summing to the total, with empty classes getting none.
TEST(ClassBalance, QuotasFollowThePowerLawAndSumToTheEpoch) {
  const std::vector<int64_t> counts = {2275, 166, 0, 9, 349};
  const int64_t total = 2799;
  EXPECT_EQ(class_quotas(counts, 0.0, total), counts);  // b = 0: the data's own frequencies
  EXPECT_EQ(class_quotas(counts, 1.0, total), (std::vector<int64_t>{700, 700, 0, 700, 699}));
  for (double b : {0.25, 0.5, 0.75}) {
    const auto q = class_quotas(counts, b, total);
    double norm = 0;
    for (int64_t n : counts) norm += n > 0 ? std::pow(static_cast<double>(n), 1 - b) : 0;
    for (size_t k = 0; k < counts.size(); ++k) {
      const double exact =
          counts[k] > 0 ? total * std::pow(static_cast<double>(counts[k]), 1 - b) / norm : 0;
      EXPECT_LT(std::abs(static_cast<double>(q[k]) - exact), 1.0) << "b " << b << " class " << k;
    }
    EXPECT_EQ(std::accumulate(q.begin(), q.end(), int64_t{0}), total) << "b " << b;
  }
  EXPECT_EQ(class_quotas({0, 0}, 1.0, 10), (std::vector<int64_t>{0, 0}));
}

// 90 images of class 0 and 10 of class 1, fully balanced: each 100-draw epoch holds 50 of each
// class, every class-1 image exactly 5 times and 50 distinct class-0 images, in a mixed order;
// and a resumed sampler continues exactly.
TEST(ClassBalance, BalancedEpochsGiveEachClassItsShareAndResumeExactly) {
  Dataset d;
  d.images = torch::arange(100, torch::kUInt8).view({100, 1, 1, 1});
  d.labels = (torch::arange(100, torch::kLong) >= 90).to(torch::kLong);
  BatchSampler s(d, false, {0, 0, 7}, 1.0);
  for (int epoch = 0; epoch < 2; ++epoch) {
    auto b = s.next(100);
    auto values = torch::round((b.images.flatten() + 1) * 127.5).to(torch::kLong);
    EXPECT_TRUE(torch::equal(b.labels, (values >= 90).to(torch::kLong)));
    std::map<int64_t, int> times;
    for (int64_t i = 0; i < 100; ++i) ++times[values[i].item<int64_t>()];
    int rare = 0, common = 0;
    for (const auto& [value, n] : times) {
      if (value >= 90) {
        EXPECT_EQ(n, 5) << "image " << value;
        rare += n;
      } else {
        EXPECT_EQ(n, 1) << "image " << value;
        common += n;
      }
    }
    EXPECT_EQ(rare, 50);
    EXPECT_EQ(common, 50);
    EXPECT_GT(b.labels.slice(0, 0, 50).sum().item<int64_t>(), 10);  // shuffled, not sorted
    EXPECT_LT(b.labels.slice(0, 0, 50).sum().item<int64_t>(), 40);
  }
  s.next(30);
  const auto pos = s.position();
  auto expected = s.next(90);  // crosses into the next epoch
  BatchSampler resumed(d, false, pos, 1.0);
  EXPECT_TRUE(torch::equal(resumed.next(90).images, expected.images));
  // Without balance, the same seed draws a plain permutation: the rare class keeps its 10%.
  BatchSampler plain(d, false, {0, 0, 7});
  EXPECT_EQ(plain.next(100).labels.sum().item<int64_t>(), 10);
}

}  // namespace
}  // namespace ddpm
