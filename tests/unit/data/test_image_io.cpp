#include <gtest/gtest.h>

#include "ddpm/base/crc.h"
#include "ddpm/base/error.h"
#include "ddpm/data/builtin/emoji.h"
#include "ddpm/data/image_io.h"
#include "test_util.h"

namespace ddpm {
namespace {

// Every pixel `value`, filled by index: GCC 12 warned (-Wstringop-overflow) about repeated
// vector inserts here.
Image solid(int w, int h, int c, const std::vector<uint8_t>& value) {
  Image im{w, h, c, std::vector<uint8_t>(static_cast<size_t>(w) * h * value.size())};
  for (size_t i = 0; i < im.pixels.size(); ++i) im.pixels[i] = value[i % value.size()];
  return im;
}

TEST(ImageIo, Crc32KnownValue) {
  const std::string s = "123456789";
  EXPECT_EQ(crc32(reinterpret_cast<const uint8_t*>(s.data()), s.size()), 0xCBF43926u);
}

TEST(ImageIo, AlphaIsCompositedOntoWhite) {
  // 50% transparent pure red over white → (255, 128, 128).
  Image rgba = solid(2, 2, 4, {255, 0, 0, 128});
  Image rgb = convert_channels(rgba, 3);
  ASSERT_EQ(rgb.channels, 3);
  EXPECT_EQ(rgb.pixels[0], 255);
  EXPECT_NEAR(rgb.pixels[1], 255 * (1 - 128 / 255.0), 1);
  Image grey = convert_channels(solid(1, 1, 1, {77}), 3);
  EXPECT_EQ(grey.pixels, (std::vector<uint8_t>{77, 77, 77}));
  Image luma = convert_channels(solid(1, 1, 3, {255, 0, 0}), 1);
  EXPECT_NEAR(luma.pixels[0], 0.299 * 255, 1);
}

TEST(ImageIo, ResizeAveragesWhenShrinking) {
  // A 1-pixel black/white checkerboard shrunk 8× must come out mid-grey (nearest would give 0 or
  // 255).
  Image board{64, 64, 1, std::vector<uint8_t>(64 * 64)};
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x) board.pixels[y * 64 + x] = ((x + y) % 2) ? 255 : 0;
  Image small = resize_center_crop(board, 8);
  ASSERT_EQ(small.width, 8);
  ASSERT_EQ(small.height, 8);
  for (auto v : small.pixels)
    EXPECT_NEAR(v, 127.5, 8);  // the mean of 0 and 255 (nearest gives 0 or 255)
  // Non-square input: short side scaled, then the centre cropped.
  Image wide = solid(40, 20, 3, {10, 20, 30});
  Image out = resize_center_crop(wide, 10);
  EXPECT_EQ(out.width, 10);
  EXPECT_EQ(out.height, 10);
  for (int i = 0; i < 10 * 10; ++i) EXPECT_NEAR(out.pixels[i * 3 + 2], 30, 1);
}

TEST(ImageIo, PngRoundTripWithTextChunks) {
  test::TempDir dir;
  Image im = solid(5, 3, 3, {1, 2, 3});
  im.pixels[4] = 200;
  write_png(dir / "a.png", im, {{"ddpm:step", "42"}, {"ddpm:seed", "7"}});
  Image back = decode_image_file(dir / "a.png");
  EXPECT_EQ(back.width, 5);
  EXPECT_EQ(back.height, 3);
  EXPECT_EQ(back.pixels, im.pixels);
  auto text = read_png_text(dir / "a.png");
  ASSERT_EQ(text.size(), 2u);
  EXPECT_EQ(text[0], (std::pair<std::string, std::string>{"ddpm:step", "42"}));
}

TEST(ImageIo, GridLayoutAndValues) {
  auto images = torch::full({5, 3, 4, 4}, -1.0);  // black
  images[4].fill_(1.0);                           // white
  Image grid = make_grid(images, 2, 1);
  EXPECT_EQ(grid.width, 2 * (4 + 1) + 1);
  EXPECT_EQ(grid.height, 3 * (4 + 1) + 1);
  auto at = [&](int x, int y) { return grid.pixels[(y * grid.width + x) * 3]; };
  EXPECT_EQ(at(0, 0), 255);   // padding
  EXPECT_EQ(at(1, 1), 0);     // image 0
  EXPECT_EQ(at(6, 6), 0);     // image 3
  EXPECT_EQ(at(1, 11), 255);  // image 4 (white)
}

TEST(ImageIo, CorruptInputIsAnErrorNotACrash) {
  const uint8_t junk[] = {0x89, 'P', 'N', 'G', 1, 2, 3};
  EXPECT_THROW(decode_image_memory(junk, sizeof(junk), "junk"), Error);
  EXPECT_THROW(decode_image_memory(junk, 0, "empty"), Error);
}

// Found by fuzz_image: 22 bytes of run-length TGA that declare a 23551×33023 grey image, which
// stb would decode into 777 MB (and the conversions copy it again). Refused from the header.
TEST(ImageIo, AHeaderDeclaringGigapixelsIsRefusedBeforeDecoding) {
  const uint8_t tga[] = {0xff, 0x00, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                         0xff, 0xff, 0x5b, 0xff, 0x80, 0x08, 0x52, 0x00, 0x80, 0x08, 0x60};
  EXPECT_EQ(test::error_of([&] { decode_image_memory(tga, sizeof(tga), "huge.tga"); }),
            "huge.tga: image is 23551x33023 (777 megapixels), above the limit of 64 megapixels: "
            "downscale it or remove it");
}

TEST(Emoji, FindsCompletePngsInABlob) {
  Image im = solid(3, 3, 3, {9, 9, 9});
  auto png = encode_png(im);
  const std::string false_start = "\x01\x02\x89PN";
  std::vector<uint8_t> blob(false_start.begin(), false_start.end());
  blob.insert(blob.end(), png.begin(), png.end());
  blob.push_back(7);
  blob.insert(blob.end(), png.begin(), png.end() - 5);  // truncated: not counted
  auto found = find_embedded_pngs(blob);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].first, 5u);
  EXPECT_EQ(found[0].second, 5u + png.size());
}

TEST(Emoji, ExtractsCroppedRgbGlyphsFromTheFont) {
  test::TempDir dir;
  test::make_emoji_folder(dir / "emoji", 20);
  Image first = decode_image_file(dir / "emoji/emoji_0000.png");
  EXPECT_EQ(first.width, 128);
  EXPECT_EQ(first.height, 128);
  EXPECT_EQ(first.channels, 3);
  EXPECT_EQ(first.pixels[0], 255);  // transparent corner composited onto white
  EXPECT_TRUE(std::filesystem::exists(dir / "emoji/emoji_0019.png"));
  EXPECT_FALSE(std::filesystem::exists(dir / "emoji/emoji_0020.png"));
}

}  // namespace
}  // namespace ddpm
