// The editing commands through the binary, on the shared template model (tests/support/
// trained_templates.h): `ddpm sample --init` with --mask and --individual, --strength,
// `--interpolate` between seeds, `ddpm invert`, and their one-line errors.
#include <gtest/gtest.h>

#include <filesystem>

#include "ddpm/data/image_io.h"
#include "ddpm/io/safetensors.h"
#include "test_util.h"
#include "trained_templates.h"

namespace ddpm {
namespace {

using test::run_ddpm;
namespace fs = std::filesystem;

// An 8x8 grey mask: black (keep) in the left `keep_columns` columns, white elsewhere.
void write_mask(const std::string& path, int keep_columns, int side = test::kTemplateSide) {
  Image mask{side, side, 1, {}};
  for (int y = 0; y < side; ++y) {
    for (int x = 0; x < side; ++x) mask.pixels.push_back(x < keep_columns ? 0 : 255);
  }
  write_png(path, mask);
}

class EditCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ckpt_ = new std::string(test::trained_template_checkpoint());
    dir_ = new test::TempDir;
    fs::create_directories(*dir_ / "in");
    const char* names[] = {"red", "green", "blue"};
    for (size_t c = 0; c < 3; ++c) {
      test::write_flat_png(*dir_ / ("in/" + std::string(names[c]) + ".png"), test::kTemplates[c]);
    }
    write_mask(*dir_ / "left.png", 4);
  }
  static void TearDownTestSuite() {
    delete dir_;
    delete ckpt_;
  }
  static test::CommandResult sample(const std::string& args) {
    return run_ddpm("sample --ckpt '" + *ckpt_ + "' --threads 1 --sampler ddim --steps 10 " + args);
  }
  static std::string* ckpt_;
  static test::TempDir* dir_;
};
std::string* EditCli::ckpt_ = nullptr;
test::TempDir* EditCli::dir_ = nullptr;

TEST_F(EditCli, InpaintingWritesEachOutputUnderItsInputsNameAndKeepsTheMaskedOutPixels) {
  auto r = sample("--init '" + *dir_ / "in" + "' --mask '" + *dir_ / "left.png" +
                  "' --individual '" + *dir_ / "out" + "' --out '" + *dir_ / "grid.png" + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* name : {"red", "green", "blue"}) {
    const Image in = decode_image_file(*dir_ / ("in/" + std::string(name) + ".png"));
    const Image out = decode_image_file(*dir_ / ("out/" + std::string(name) + ".png"));
    ASSERT_EQ(out.width, 8);
    int kept_equal = 0, right_close = 0;
    for (int y = 0; y < 8; ++y) {
      for (int x = 0; x < 8; ++x) {
        for (int c = 0; c < 3; ++c) {
          const int i = (y * 8 + x) * 3 + c;
          if (x < 4) kept_equal += in.pixels[i] == out.pixels[i];
          if (x >= 4) right_close += std::abs(in.pixels[i] - out.pixels[i]) < 26;
        }
      }
    }
    EXPECT_EQ(kept_equal, 4 * 8 * 3) << name;   // the kept half, byte for byte
    EXPECT_EQ(right_close, 4 * 8 * 3) << name;  // the regenerated half: the same template
  }
  // A folder of masks under the inputs' names (any image extension) works as one mask for all.
  fs::create_directories(*dir_ / "per_input");
  for (const char* name : {"red", "green", "blue"}) {
    write_mask(*dir_ / ("per_input/" + std::string(name) + ".png"), 4);
  }
  auto by_name =
      sample("--init '" + *dir_ / "in" + "' --mask '" + *dir_ / "per_input" + "' --individual '" +
             *dir_ / "out2" + "' --out '" + *dir_ / "grid2.png" + "'");
  ASSERT_EQ(by_name.exit_code, 0) << by_name.err;
  for (const char* name : {"red", "green", "blue"}) {
    EXPECT_EQ(decode_image_file(*dir_ / ("out2/" + std::string(name) + ".png")).pixels,
              decode_image_file(*dir_ / ("out/" + std::string(name) + ".png")).pixels)
        << name;
  }
  // Three inputs beside their outputs, two pairs per row: 4 x 2 cells of 8 + 2 pixels.
  const Image grid = decode_image_file(*dir_ / "grid.png");
  EXPECT_EQ(grid.width, 4 * 10 + 2);
  EXPECT_EQ(grid.height, 2 * 10 + 2);
}

TEST_F(EditCli, InterpolatingBetweenTwoSeedsStartsAndEndsAtWhatThoseSeedsDraw) {
  auto strip = sample("--interpolate 3,5 --frames 4 --individual '" + *dir_ / "strip" +
                      "' --out '" + *dir_ / "strip.png" + "'");
  ASSERT_EQ(strip.exit_code, 0) << strip.err;
  for (const auto& [seed, frame] : {std::pair<int, int>{3, 0}, {5, 3}}) {
    const std::string dir = *dir_ / ("seed" + std::to_string(seed));
    auto one = sample("--eta 0 --n 1 --seed " + std::to_string(seed) + " --individual '" + dir +
                      "' --out '" + dir + ".png'");
    ASSERT_EQ(one.exit_code, 0) << one.err;
    EXPECT_EQ(test::read_file(dir + "/sample_00000.png").size() > 0, true);
    EXPECT_EQ(
        decode_image_file(dir + "/sample_00000.png").pixels,
        decode_image_file(*dir_ / ("strip/sample_0000" + std::to_string(frame) + ".png")).pixels)
        << "seed " << seed;
  }
}

TEST_F(EditCli, InvertWritesTheLatentsAndReportsTheReconstructionPsnr) {
  auto r = run_ddpm("invert --ckpt '" + *ckpt_ + "' --threads 1 --input '" + *dir_ / "in" +
                    "' --out '" + *dir_ / "latents.safetensors" + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("reconstruction PSNR: mean"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("red"), std::string::npos) << r.out;
  const std::string bytes = test::read_file(*dir_ / "latents.safetensors");
  const auto file = decode_safetensors(std::vector<uint8_t>(bytes.begin(), bytes.end()), "latents");
  EXPECT_EQ(file.tensors.at("latents").sizes(), (std::vector<int64_t>{3, 3, 8, 8}));
  EXPECT_EQ(file.metadata.at("ddpm:names"), "[\"blue\",\"green\",\"red\"]");
  EXPECT_TRUE(fs::exists(*dir_ / "latents.png"));
}

TEST_F(EditCli, BadEditingInputsAreOneLineErrors) {
  const std::string in = " --init '" + *dir_ / "in" + "'";
  fs::create_directories(*dir_ / "empty");
  write_mask(*dir_ / "big.png", 8, 16);
  test::expect_one_line_error(sample(in + " --mask '" + *dir_ / "big.png" + "'"),
                              "the mask is 16x16 but its image", "a mask of another size");
  test::expect_one_line_error(sample("--init '" + *dir_ / "empty" + "'"), "no image files",
                              "an empty folder");
  test::expect_one_line_error(sample(in + " --strength 1.5"), "--strength 1.5", "strength > 1");
  test::expect_one_line_error(sample(in + " --strength 0"), "must be in (0, 1]", "strength 0");
  test::expect_one_line_error(sample("--strength 0.5"), "--strength needs --init", "no inputs");
  test::expect_one_line_error(sample("--interpolate 3"), "give two endpoints", "one endpoint");
  test::expect_one_line_error(sample("--interpolate nowhere.png,3"),
                              "nowhere.png is neither an image file nor a seed", "a bad endpoint");
  test::expect_one_line_error(sample("--interpolate 1,2 --sampler heun"), "runs DDIM",
                              "interpolation with another sampler");
  test::expect_one_line_error(sample(in + " --n 4"), "--num does not apply", "--n with --init");
  fs::create_directories(*dir_ / "twins");
  test::write_flat_png(*dir_ / "twins/a.png", test::kTemplates[0]);
  fs::copy_file(*dir_ / "twins/a.png", *dir_ / "twins/a.bmp");  // stb reads by content
  test::expect_one_line_error(sample("--init '" + *dir_ / "twins" + "'"), "share a name",
                              "two inputs of one name");
  fs::create_directories(*dir_ / "masks");
  write_mask(*dir_ / "masks/red.png", 4);
  test::expect_one_line_error(sample(in + " --mask '" + *dir_ / "masks" + "'"),
                              "no mask named blue.* for the input", "a mask folder without one");
}

}  // namespace
}  // namespace ddpm
