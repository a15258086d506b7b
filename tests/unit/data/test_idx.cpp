// The IDX reader and the Fashion-MNIST extraction, on small IDX files made here; and one property
// of the real data set (Debian's package) that the Fashion-MNIST configs rely on.
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>

#include "ddpm/config/config.h"
#include "ddpm/data/builtin/idx.h"
#include "ddpm/data/image_io.h"
#include "fixtures.h"
#include "test_util.h"

namespace ddpm {
namespace {

using test::idx_bytes;
using test::write_fake_fashion;
using test::write_gz;

using test::error_of;
using test::TempDir;

TEST(Idx, ParsesDimensionsAndData) {
  auto array = parse_idx(idx_bytes({2, 3}, {1, 2, 3, 4, 5, 6}), "a.idx");
  EXPECT_EQ(array.dims, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(array.data, (std::vector<uint8_t>{1, 2, 3, 4, 5, 6}));
}

TEST(Idx, RejectsCorruptHeadersAndLengthsNamingTheFile) {
  EXPECT_NE(error_of([] {
              parse_idx({1, 2, 3, 4}, "x.idx");
            }).find("x.idx: not an IDX file"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              parse_idx({0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0}, "f.idx");
            }).find("not unsigned bytes"),
            std::string::npos);
  auto truncated = idx_bytes({2, 3}, {1, 2, 3, 4, 5});
  EXPECT_NE(
      error_of([&] {
        parse_idx(truncated, "t.idx");
      }).find("t.idx: IDX header promises 6 bytes of data, the file has 5 (truncated or corrupt)"),
      std::string::npos);
  EXPECT_NE(error_of([] {
              parse_idx({0, 0, 8, 2, 0, 0}, "h.idx");
            }).find("truncated IDX header"),
            std::string::npos);
}

TEST(Idx, ReadsGzippedAndPlainFiles) {
  TempDir dir;
  auto bytes = idx_bytes({4}, {9, 8, 7, 6});
  write_gz(dir / "a.gz", bytes);
  test::write_file(dir / "b.idx", std::string(bytes.begin(), bytes.end()));
  EXPECT_EQ(read_idx(dir / "a.gz").data, (std::vector<uint8_t>{9, 8, 7, 6}));
  EXPECT_EQ(read_idx(dir / "b.idx").data, (std::vector<uint8_t>{9, 8, 7, 6}));
  EXPECT_NE(error_of([&] { read_idx(dir / "missing.gz"); }).find("missing.gz: no such file"),
            std::string::npos);
}

TEST(Idx, ATruncatedGzipFileIsAnErrorNamingIt) {
  TempDir dir;
  std::vector<uint8_t> big(5000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 7919 % 251);
  write_gz(dir / "full.gz", idx_bytes({5000}, big));
  auto gz = test::read_file(dir / "full.gz");
  test::write_file(dir / "cut.gz", gz.substr(0, gz.size() / 2));
  const std::string message = error_of([&] { read_idx(dir / "cut.gz"); });
  EXPECT_NE(message.find("cut.gz"), std::string::npos) << message;
}

TEST(FashionMnist, WritesOneFolderPerClassInLabelOrder) {
  TempDir dir;
  write_fake_fashion(dir / "src");
  EXPECT_EQ(extract_fashion_mnist(dir / "src", dir / "out"), 5);
  namespace fs = std::filesystem;
  EXPECT_TRUE(fs::exists(dir / "out/train/9_Ankle-boot/00000.png"));
  EXPECT_TRUE(fs::exists(dir / "out/train/0_T-shirt-top/00001.png"));
  EXPECT_TRUE(fs::exists(dir / "out/train/3_Dress/00002.png"));
  EXPECT_TRUE(fs::exists(dir / "out/test/1_Trouser/00000.png"));
  EXPECT_TRUE(fs::exists(dir / "out/test/1_Trouser/00001.png"));
  auto image = decode_image_file(dir / "out/train/3_Dress/00002.png");
  EXPECT_EQ(image.width, 28);
  EXPECT_EQ(image.channels, 1);
  EXPECT_EQ(image.pixels[100], 120);
  // Every class has a folder (even empty ones), so indices are the labels.
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir / "out/train"))
    names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, fashion_mnist_classes());
}

TEST(FashionMnist, MissingPackageAndBadLabelsGetClearErrors) {
  TempDir dir;
  EXPECT_NE(error_of([&] {
              extract_fashion_mnist(dir / "nope", dir / "out");
            }).find("apt-get install dataset-fashion-mnist"),
            std::string::npos);
  write_fake_fashion(dir / "src", 12);
  EXPECT_NE(error_of([&] {
              extract_fashion_mnist(dir / "src", dir / "out");
            }).find("train-labels-idx1-ubyte.gz: label 12 at index 2 is not a class"),
            std::string::npos);
}

// The share of a class's images that lie nearer (squared pixel distance) to the class's mean image
// than to that mean mirrored left to right: about 1/2 for a class drawn facing either way.
double share_facing_like_the_mean(const IdxArray& images, const IdxArray& labels, int label) {
  const int64_t pixels = images.dims[1] * images.dims[2], side = images.dims[2];
  std::vector<double> mean(static_cast<size_t>(pixels), 0.0);
  std::vector<int64_t> members;
  for (int64_t i = 0; i < labels.dims[0]; ++i) {
    if (labels.data[static_cast<size_t>(i)] != label) continue;
    members.push_back(i);
    for (int64_t p = 0; p < pixels; ++p)
      mean[p] += images.data[static_cast<size_t>(i * pixels + p)];
  }
  for (double& m : mean) m /= static_cast<double>(members.size());
  int64_t nearer = 0;
  for (int64_t i : members) {
    double same = 0, mirrored = 0;
    for (int64_t p = 0; p < pixels; ++p) {
      const double x = images.data[static_cast<size_t>(i * pixels + p)];
      const int64_t mirror = (p / side) * side + (side - 1 - p % side);
      same += (x - mean[p]) * (x - mean[p]);
      mirrored += (x - mean[mirror]) * (x - mean[mirror]);
    }
    nearer += same < mirrored;
  }
  return static_cast<double>(nearer) / static_cast<double>(members.size());
}

// Every sandal, sneaker and ankle boot in Fashion-MNIST points its toe the same way, so a
// horizontal flip draws a shoe that the test split never shows (in the classifier's feature space,
// flipping half of the real test shoes alone triples the classifier FID; docs/notebook/quality.md).
// The garments are near mirror-symmetric. The project's Fashion-MNIST configs therefore train
// without flips.
TEST(FashionMnist, FootwearPointsOneWaySoTheFashionConfigsDoNotFlip) {
  const std::string src = kFashionMnistDir;
  if (!std::filesystem::exists(src + "/t10k-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "needs Debian's dataset-fashion-mnist";
  // The test split (10,000 images, 1,000 per class); the train split gives the same shares.
  const IdxArray images = read_idx(src + "/t10k-images-idx3-ubyte.gz");
  const IdxArray labels = read_idx(src + "/t10k-labels-idx1-ubyte.gz");
  for (int footwear : {5, 7, 9})
    EXPECT_GT(share_facing_like_the_mean(images, labels, footwear), 0.9) << footwear;
  for (int garment : {0, 2, 3, 4, 6})
    EXPECT_LT(share_facing_like_the_mean(images, labels, garment), 0.8) << garment;
  for (const char* name : {"configs/fashion.json", "configs/fashion_gpu.json"})
    EXPECT_FALSE(load_config(test::source_path(name)).data.random_flip) << name;
}

}  // namespace
}  // namespace ddpm
