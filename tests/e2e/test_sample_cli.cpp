// End-to-end tests of `ddpm sample` and `ddpm info --ckpt` on checkpoints trained by the real
// binary.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "ddpm/data/image_io.h"
#include "ddpm/inference/generate.h"
#include "ddpm/io/checkpoint.h"
#include "test_util.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;
using test::run_ddpm;

// The grid's layout (the previews and `ddpm sample` share it): one row per class for a few images
// of a few classes, whole classes per row in an about square grid for one or two images of many
// (a data set of a hundred classes no longer previews as a one-column strip), ⌈√n⌉ without classes.
TEST(SampleGrid, RowsHoldWholeClassesAndStayAboutSquare) {
  const auto columns = [](int64_t per_class, int64_t classes) {
    GenerateOptions g;
    draw_per_class(g, per_class, classes);
    return grid_columns(g);
  };
  EXPECT_EQ(columns(8, 10), 8);    // the emoji demo: row r = group r
  EXPECT_EQ(columns(10, 10), 10);  // the Fashion-MNIST demo
  EXPECT_EQ(columns(3, 12), 3);    // four times as tall as wide: still a row per class
  EXPECT_EQ(columns(1, 101), 10);  // 10 classes a row, 11 rows
  EXPECT_EQ(columns(2, 101), 14);  // 7 classes a row, 15 rows
  EXPECT_EQ(columns(2, 10), 4);    // 2 classes a row, 5 rows
  EXPECT_EQ(columns(1, 5), 2);
  GenerateOptions plain;
  plain.n = 64;
  EXPECT_EQ(grid_columns(plain), 8);
  plain.n = 65;
  EXPECT_EQ(grid_columns(plain), 9);
}

class SampleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    test::make_emoji_folder(dir_ / "emoji", 32);
    auto r = run_ddpm(test::tiny_train_args(dir_ / "run", dir_ / "emoji",
                                            "--set train.steps=5 --set train.batch_size=4"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ckpt_ = dir_ / "run/last.pt";
  }
  std::string sample(const std::string& extra) {
    return "sample --threads 1 --ckpt '" + ckpt_ + "' " + extra;
  }
  test::TempDir dir_;
  std::string ckpt_;
};

TEST_F(SampleTest, WritesAnEightByEightGridWithParametersInPngText) {
  auto r = run_ddpm(sample("--n 64 --sampler ddim --steps 5 --seed 3 --out '" + (dir_ / "g.png") +
                           "' --individual '" + (dir_ / "each") + "'"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Image grid = decode_image_file(dir_ / "g.png");
  // tiny.json: 16 px images, 8 per row, 2 px padding → 8·18 + 2 = 146.
  EXPECT_EQ(grid.width, 146);
  EXPECT_EQ(grid.height, 146);
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir_.path() / "each"))
    files += e.path().extension() == ".png";
  EXPECT_EQ(files, 64);
  EXPECT_EQ(decode_image_file(dir_ / "each/sample_00063.png").width, 16);
  auto text = read_png_text(dir_ / "g.png");
  auto value = [&](const std::string& key) {
    for (const auto& [k, v] : text)
      if (k == key) return v;
    return std::string("<missing>");
  };
  EXPECT_EQ(value("ddpm:step"), "5");
  EXPECT_EQ(value("ddpm:sampler"), "ddim");
  EXPECT_EQ(value("ddpm:steps"), "5");
  EXPECT_EQ(value("ddpm:seed"), "3");
  EXPECT_EQ(value("ddpm:checkpoint"), ckpt_);
  EXPECT_EQ(value("ddpm:guidance"), "0.000000");
  EXPECT_NE(r.err.find("img/s"), std::string::npos);  // progress line
}

TEST_F(SampleTest, SameSeedGivesIdenticalPngsWhateverTheBatch) {
  for (const char* sampler : {"--sampler ddpm", "--sampler ddim --steps 10 --eta 1"}) {
    std::string first;
    for (int batch : {1, 7, 64}) {
      const std::string out = dir_ / ("b" + std::to_string(batch) + ".png");
      auto r = run_ddpm(sample(std::string(sampler) + " --n 9 --seed 11 --batch " +
                               std::to_string(batch) + " --out '" + out + "'"));
      ASSERT_EQ(r.exit_code, 0) << r.err;
      std::string bytes = test::read_file(out);
      if (first.empty()) first = bytes;
      EXPECT_EQ(bytes, first) << sampler << " batch " << batch;
    }
    auto other = run_ddpm(
        sample(std::string(sampler) + " --n 9 --seed 12 --out '" + (dir_ / "other.png") + "'"));
    EXPECT_NE(test::read_file(dir_ / "other.png"), first) << "a different seed, different images";
  }
}

// sample.spacing is a config key like steps and eta: a run trained with it samples (and previews)
// with it unless --spacing says otherwise.
TEST_F(SampleTest, TheConfigsSpacingIsWhatSampleUses) {
  auto r = run_ddpm(test::tiny_train_args(
      dir_ / "spaced", dir_ / "emoji",
      "--set train.steps=20 --set train.batch_size=4 --set sample.sampler=ddim "
      "--set sample.steps=6 --set sample.spacing=quadratic --set sample.clip_denoised=false"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto draw = [&](const std::string& flags, const std::string& name) {
    auto s = run_ddpm("sample --threads 1 --n 4 --seed 2 --ckpt '" + (dir_ / "spaced/last.pt") +
                      "' --out '" + (dir_ / name) + "' " + flags);
    EXPECT_EQ(s.exit_code, 0) << s.err;
    return decode_image_file(dir_ / name).pixels;
  };
  const auto by_config = draw("", "config.png");
  EXPECT_EQ(by_config, draw("--spacing quadratic", "quadratic.png"));
  EXPECT_NE(by_config, draw("--spacing uniform", "uniform.png"));
  test::expect_one_line_error(run_ddpm(sample("--spacing cubic")),
                              "--spacing: sample.spacing: unknown value \"cubic\"",
                              "a bad spacing");
}

// bf16 end to end on the CPU: a run trained under train.precision=bf16, sampled with --bf16.
TEST_F(SampleTest, Bf16TrainingAndSamplingRun) {
  auto r = run_ddpm(test::tiny_train_args(dir_ / "bf16run", dir_ / "emoji",
                                          "--set train.steps=3 --set train.batch_size=4 "
                                          "--set train.precision=bf16"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE((r.out + r.err).find("done: step 3"), std::string::npos) << r.out << r.err;
  r = run_ddpm("sample --threads 1 --ckpt '" + (dir_ / "bf16run/last.pt") +
               "' --bf16 --n 4 --sampler ddim --steps 3 --out '" + (dir_ / "bf16.png") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Image grid = decode_image_file(dir_ / "bf16.png");
  EXPECT_EQ(grid.width, 2 * (16 + 2) + 2);
}

TEST_F(SampleTest, RawAndEmaWeightsDiffer) {
  ASSERT_EQ(run_ddpm(sample("--n 4 --sampler ddim --steps 5 --out '" + (dir_ / "ema.png") + "'"))
                .exit_code,
            0);
  ASSERT_EQ(
      run_ddpm(sample("--raw --n 4 --sampler ddim --steps 5 --out '" + (dir_ / "raw.png") + "'"))
          .exit_code,
      0);
  EXPECT_NE(test::read_file(dir_ / "ema.png"), test::read_file(dir_ / "raw.png"));
}

TEST_F(SampleTest, InfoDescribesTheCheckpoint) {
  auto r = run_ddpm("info --ckpt '" + ckpt_ + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("step: 5"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("parameters: 177427"), std::string::npos);
  EXPECT_NE(r.out.find("ema: decay 0.99"), std::string::npos);
  EXPECT_NE(r.out.find("data position: epoch 0, index 20"), std::string::npos);
  EXPECT_NE(r.out.find("\"base_channels\": 16"), std::string::npos);
}

TEST_F(SampleTest, BadCheckpointsAndArgumentsGiveOneClearLine) {
  const std::string bytes = test::read_file(ckpt_);
  test::write_file(dir_ / "truncated.pt", bytes.substr(0, bytes.size() / 2));
  test::write_file(dir_ / "zero.pt", "");
  test::write_file(dir_ / "other.pt", "PK\x03\x04 something else entirely");
  std::string newer = bytes;
  newer[8] = 99;  // format version field
  test::write_file(dir_ / "newer.pt", newer);
  std::string flipped = bytes;
  flipped[flipped.size() / 2] ^= 0x55;
  test::write_file(dir_ / "corrupt.pt", flipped);
  struct Case {
    std::string args, message;
  };
  const std::vector<Case> cases = {
      {"sample --ckpt '" + (dir_ / "missing.pt") + "'", "checkpoint not found"},
      {"sample --ckpt '" + (dir_ / "truncated.pt") + "'", "checkpoint is truncated"},
      {"sample --ckpt '" + (dir_ / "zero.pt") + "'", "checkpoint is empty (0 bytes)"},
      {"sample --ckpt '" + (dir_ / "other.pt") + "'", "not a ddpm checkpoint"},
      {"sample --ckpt '" + (dir_ / "newer.pt") + "'", "format version 99 is newer"},
      {"sample --ckpt '" + (dir_ / "corrupt.pt") + "'", "checksum mismatch"},
      {sample("--n 0"), "--num 0: must be in [1, 65536]"},
      {sample("--steps -3 --sampler ddim"), "--steps: sample.steps = -3: must be in [0, 100]"},
      {sample("--sampler ddim --steps 5000"), "--steps: sample.steps = 5000: must be in [0, 100]"},
      {sample("--guidance 2"), "--guidance needs a class-conditional model"},
      {sample("--class cat"), "this model is unconditional"},
      {sample("--per-class 4"), "--per-class needs a class-conditional model"},
      {sample("--sampler euler"),
       "--sampler: sample.sampler: unknown value \"euler\" (expected ddpm | ddim | dpmpp2m | "
       "heun)"},
      {sample("--out /nonexistent/dir/x.png"), "does not exist or is not writable"},
  };
  for (const auto& c : cases) {
    auto r = run_ddpm(c.args);
    EXPECT_EQ(r.exit_code, 1) << c.args << "\n" << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << "\n" << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.err.rfind("ddpm: error: ", 0), 0u) << r.err;
  }
}

TEST(ClassConditional, TrainsWithLabelDropoutAndSamplesAClassWithGuidance) {
  test::TempDir dir;
  test::make_class_folders(dir / "classes", 24, {"animals", "faces"});
  auto r = run_ddpm(test::tiny_train_args(dir / "run", dir / "classes",
                                          "--set train.steps=4 --set train.batch_size=4 "
                                          "--set model.num_classes=2 --set train.p_uncond=0.5"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string ckpt = dir / "run/last.pt";
  EXPECT_EQ(Checkpoint::open(ckpt).meta().class_names,
            (std::vector<std::string>{"animals", "faces"}));
  const std::string base =
      "sample --threads 1 --ckpt '" + ckpt + "' --n 4 --sampler ddim --steps 4 ";
  auto by_name = run_ddpm(base + "--class faces --guidance 3 --out '" + (dir / "a.png") + "'");
  ASSERT_EQ(by_name.exit_code, 0) << by_name.err;
  auto by_index = run_ddpm(base + "--class 1 --guidance 3 --out '" + (dir / "b.png") + "'");
  ASSERT_EQ(by_index.exit_code, 0) << by_index.err;
  EXPECT_EQ(test::read_file(dir / "a.png"), test::read_file(dir / "b.png"));
  auto missing = run_ddpm(base + "--class dogs");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("--class dogs: no such class (indices 0..1; names: animals, faces)"),
            std::string::npos)
      << missing.err;
  // --per-class K: K images of every class, row r = class r; image i is the image --class (i / K)
  // draws for seed i.
  auto grid = run_ddpm(base + "--per-class 3 --guidance 3 --out '" + (dir / "pc.png") +
                       "' --individual '" + (dir / "pc") + "'");
  ASSERT_EQ(grid.exit_code, 0) << grid.err;
  auto image = decode_image_file(dir / "pc.png");
  EXPECT_EQ(image.width, 3 * 16 + 4 * 2);   // 3 per row, 2 px padding
  EXPECT_EQ(image.height, 2 * 16 + 3 * 2);  // one row per class
  auto faces = run_ddpm(base + "--n 6 --class faces --guidance 3 --individual '" + (dir / "faces") +
                        "' --out '" + (dir / "f.png") + "'");
  ASSERT_EQ(faces.exit_code, 0) << faces.err;
  auto pixels = [&](const std::string& f) { return decode_image_file(dir / f).pixels; };
  EXPECT_EQ(pixels("pc/sample_00004.png"), pixels("faces/sample_00004.png"));
  auto animals = run_ddpm(base + "--n 6 --class animals --guidance 3 --individual '" +
                          (dir / "animals") + "' --out '" + (dir / "an.png") + "'");
  ASSERT_EQ(animals.exit_code, 0) << animals.err;
  EXPECT_EQ(pixels("pc/sample_00001.png"), pixels("animals/sample_00001.png"));
  // Guidance limited to noise levels no step visits is no guidance; the interval is in the PNG.
  auto none = run_ddpm(base + "--class faces --guidance 3 --guidance-interval 1e6,1e7 --out '" +
                       (dir / "none.png") + "'");
  ASSERT_EQ(none.exit_code, 0) << none.err;
  auto zero = run_ddpm(base + "--class faces --guidance 0 --out '" + (dir / "zero.png") + "'");
  ASSERT_EQ(zero.exit_code, 0) << zero.err;
  EXPECT_EQ(decode_image_file(dir / "none.png").pixels, decode_image_file(dir / "zero.png").pixels);
  EXPECT_NE(test::read_file(dir / "none.png").find("[1000000.0,10000000.0]"), std::string::npos);
  auto all = run_ddpm(base + "--class faces --guidance 3 --guidance-interval all --out '" +
                      (dir / "all.png") + "'");
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_EQ(decode_image_file(dir / "all.png").pixels, decode_image_file(dir / "a.png").pixels);
  for (const auto& [flag, message] : std::vector<std::pair<std::string, std::string>>{
           {"5", "--guidance-interval 5: expected SIGMA_MIN,SIGMA_MAX (e.g. 0.28,5.42) or all"},
           {"1,2x", "--guidance-interval 1,2x: expected SIGMA_MIN,SIGMA_MAX"},
           {"5,1", "--guidance-interval: sample.guidance_interval = [5.0,1.0]: must be []"}}) {
    auto bad = run_ddpm(base + "--class faces --guidance 3 --guidance-interval " + flag);
    EXPECT_EQ(bad.exit_code, 1) << flag;
    EXPECT_NE(bad.err.find(message), std::string::npos) << bad.err;
  }
  auto both = run_ddpm(base + "--per-class 2 --class faces");
  EXPECT_NE(both.err.find("--per-class and --class exclude each other"), std::string::npos)
      << both.err;
  // A class count that disagrees with the data folder is refused.
  auto wrong = run_ddpm(test::tiny_train_args(dir / "run2", dir / "classes",
                                              "--set train.steps=1 --set model.num_classes=3"));
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.err.find("has 2 class subfolders"), std::string::npos) << wrong.err;
}

// Folders numbered for their label order ("0_Cat", "1_Dog", as `ddpm data fashion-mnist` writes)
// also answer to the bare name, case-insensitively.
TEST(ClassConditional, NumberedClassFoldersAnswerToTheirNames) {
  test::TempDir dir;
  test::make_class_folders(dir / "classes", 8, {"0_Cat", "1_Dog"});
  auto r = run_ddpm(test::tiny_train_args(
      dir / "run", dir / "classes",
      "--set train.steps=2 --set train.batch_size=4 --set model.num_classes=2"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string base =
      "sample --threads 1 --ckpt '" + (dir / "run/last.pt") + "' --n 2 --sampler ddim --steps 3 ";
  for (const char* name : {"dog", "Dog", "1_Dog", "1"}) {
    auto s = run_ddpm(base + "--class " + name + " --out '" + (dir / (std::string(name) + ".png")) +
                      "'");
    ASSERT_EQ(s.exit_code, 0) << name << ": " << s.err;
  }
  EXPECT_EQ(decode_image_file(dir / "dog.png").pixels, decode_image_file(dir / "1.png").pixels);
  EXPECT_EQ(decode_image_file(dir / "Dog.png").pixels, decode_image_file(dir / "1_Dog.png").pixels);
  auto bird = run_ddpm(base + "--class bird");
  EXPECT_NE(bird.err.find("--class bird: no such class"), std::string::npos) << bird.err;
}

}  // namespace
}  // namespace ddpm
