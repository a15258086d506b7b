// The bad-input and fault suite (issue #6): every case runs the real binary and checks the exit
// code and the one line on stderr. Nothing may crash, abort, print a LibTorch stack trace or lose a
// checkpoint.
#include <gtest/gtest.h>
#include <signal.h>
#include <stb_image_write.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "ddpm/io/checkpoint.h"
#include "ddpm/model/unet.h"
#include "test_util.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;
using test::run_ddpm;

using test::expect_one_line_error;

class Reliability : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_dir_ = new test::TempDir;
    test::make_emoji_folder(*data_dir_ / "emoji", 24);
  }
  static void TearDownTestSuite() { delete data_dir_; }
  static std::string data() { return *data_dir_ / "emoji"; }
  std::string config_file(const std::string& name, const std::string& text) {
    test::write_file(dir_ / name, text);
    return dir_ / name;
  }
  std::string train(const std::string& extra) {
    return test::tiny_train_args(dir_ / "run", data(), extra);
  }
  test::TempDir dir_;
  static test::TempDir* data_dir_;
};
test::TempDir* Reliability::data_dir_ = nullptr;

TEST_F(Reliability, BadConfigsGiveOneClearLine) {
  struct Case {
    std::string file_text;  // empty: use `path` as given
    std::string path;
    std::string message;
  };
  const std::string data_set =
      " --set data.path='" + data() + "' --set train.run_dir='" + (dir_ / "run") + "'";
  fs::create_directories(dir_.path() / "a_folder.json");
  const std::vector<Case> cases = {
      {"", dir_ / "missing.json", "missing.json: config file not found"},
      {"", dir_ / "a_folder.json", "a_folder.json: is a folder, expected a config file"},
      {" \n", "", "the config file is empty"},
      {"{\n  \"train\": {\n    \"lr\": 0.1,,\n  }\n}\n", "", ".json:3:"},
      {R"({"train": {"lr": "fast"}})", "", "train.lr: expected a number, got \"fast\""},
      {R"({"train": {"lr": 1e999}})", "", "invalid JSON: number overflow parsing '1e999'"},
      {R"({"model": {"channel_mults": [1, "x"]}})", "",
       "model.channel_mults[1]: expected an integer"},
      {R"({"train": {"lerning_rate": 1}})", "",
       "unknown key train.lerning_rate (did you mean train.lr?)"},
      {R"({"train": {"lr": -0.001}})", "", "train.lr = -0.001: must be in (0, 1]"},
      {R"({"diffusion": {"timesteps": 0}})", "", "diffusion.timesteps = 0"},
      {R"({"model": {"image_size": 36}})", "", "model.image_size = 36: must be divisible by 8"},
      {R"({"model": {"attention_resolutions": [5]}})", "", "model.attention_resolutions"},
      {R"({"model": {"num_classes": -1}})", "", "model.num_classes = -1"},
      {R"({"train": {"batch_size": 0}})", "", "train.batch_size = 0"},
      {R"({"train": {"precision": "fp8"}})", "", "train.precision"},
      {R"({"sample": {"sampler": "euler"}})", "", "sample.sampler"},
  };
  int index = 0;
  for (const auto& c : cases) {
    const std::string path =
        c.path.empty() ? config_file("case" + std::to_string(index++) + ".json", c.file_text)
                       : c.path;
    expect_one_line_error(run_ddpm("train --config '" + path + "'" + data_set), c.message, path);
  }
  // --set goes through the same checks.
  expect_one_line_error(run_ddpm(train("--set train.lr=abc")), "train.lr", "--set train.lr=abc");
  expect_one_line_error(run_ddpm(train("--set model.nope=1")), "unknown key model.nope", "--set");
  expect_one_line_error(run_ddpm(train("--set train.lr=1e999")), "1e999 is too large for a number",
                        "--set train.lr=1e999");
}

TEST_F(Reliability, UnreadableConfigIsNamed) {
  const std::string path = config_file("secret.json", "{}");
  fs::permissions(path, fs::perms::none);
  // Root reads any file: run as the unprivileged user "nobody" when we are root.
  std::string prefix;
  if (geteuid() == 0) {
    if (std::system("command -v setpriv >/dev/null") != 0) GTEST_SKIP() << "needs setpriv as root";
    prefix = "setpriv --reuid=65534 --regid=65534 --clear-groups";
    if (std::system((prefix + " test -x '" + DDPM_BINARY + "'").c_str()) != 0) {
      GTEST_SKIP() << "the user nobody cannot run " << DDPM_BINARY << " from this checkout";
    }
    fs::permissions(dir_.path(), fs::perms::all);
  }
  auto r = run_ddpm("info --config '" + path + "'", DDPM_SOURCE_DIR, prefix);
  expect_one_line_error(r, "cannot open the config file for reading (check permissions)", path);
}

TEST_F(Reliability, BadDataFoldersGiveOneClearLine) {
  fs::create_directories(dir_.path() / "empty");
  fs::create_directories(dir_.path() / "corrupt");
  test::write_file(dir_ / "corrupt/a.png", "not a png at all");
  test::write_file(dir_ / "corrupt/b.jpg", std::string(100, '\xff'));
  struct Case {
    std::string folder, message;
  };
  for (const Case& c : std::vector<Case>{
           {dir_ / "nowhere", "data.path " + (dir_ / "nowhere") + ": the folder does not exist"},
           {dir_ / "empty", "empty: contains no image files"},
           {dir_ / "corrupt", "none of its 2 image files could be decoded"},
       }) {
    auto r = run_ddpm(test::tiny_train_args(dir_ / "run", c.folder, "--set train.steps=1"));
    expect_one_line_error(r, c.message, c.folder);
  }
}

TEST_F(Reliability, ImagesOfMixedModesAndSizesTrain) {
  const fs::path folder = dir_.path() / "mixed";
  fs::create_directories(folder / "sub");
  std::vector<unsigned char> pixels(64 * 48 * 4);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<unsigned char>(i * 7);
  const auto p = [&](const char* name) { return (folder / name).string(); };
  ASSERT_TRUE(stbi_write_png(p("grey.png").c_str(), 64, 48, 1, pixels.data(), 64));
  ASSERT_TRUE(stbi_write_png(p("grey_alpha.png").c_str(), 20, 30, 2, pixels.data(), 40));
  ASSERT_TRUE(stbi_write_png(p("rgb.png").c_str(), 17, 9, 3, pixels.data(), 51));
  ASSERT_TRUE(stbi_write_png(p("sub/rgba.png").c_str(), 64, 48, 4, pixels.data(), 256));
  ASSERT_TRUE(stbi_write_jpg(p("photo.jpg").c_str(), 33, 65, 3, pixels.data(), 90));
  ASSERT_TRUE(stbi_write_bmp(p("icon.bmp").c_str(), 5, 5, 3, pixels.data()));
  ASSERT_TRUE(stbi_write_tga(p("tiny.tga").c_str(), 1, 1, 4, pixels.data()));
  test::write_file(p("broken.png"), "\x89PNG\r\n\x1a\n truncated");
  auto r = run_ddpm(test::tiny_train_args(dir_ / "run", folder.string(),
                                          "--set train.steps=2 --set train.batch_size=4"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("broken.png"), std::string::npos) << r.err;  // skipped with a warning
  EXPECT_NE(r.err.find("7 images"), std::string::npos) << r.err;
  EXPECT_EQ(Checkpoint::open(dir_ / "run/last.pt").meta().step, 2);
}

TEST_F(Reliability, BadCheckpointsForResumeGiveOneClearLine) {
  ASSERT_EQ(run_ddpm(train("--set train.steps=2")).exit_code, 0);
  const std::string bytes = test::read_file(dir_ / "run/last.pt");
  std::string newer = bytes;
  newer[8] = 42;  // format version field
  struct Case {
    std::string content, message;
  };
  int index = 0;
  for (const Case& c : std::vector<Case>{
           {bytes.substr(0, bytes.size() / 3), "checkpoint is truncated"},
           {"", "checkpoint is empty (0 bytes)"},
           {"{\"name\": \"not a checkpoint\"}", "not a ddpm checkpoint"},
           {newer, "format version 42 is newer"},
       }) {
    const std::string path = dir_ / ("bad" + std::to_string(index++) + ".pt");
    test::write_file(path, c.content);
    expect_one_line_error(run_ddpm("train --resume '" + path + "'"), c.message, path);
    expect_one_line_error(run_ddpm("sample --ckpt '" + path + "' --n 1"), c.message, path);
    expect_one_line_error(run_ddpm("eval --ckpt '" + path + "' --data '" + data() + "'"), c.message,
                          path);
  }
  expect_one_line_error(run_ddpm("train --resume '" + (dir_ / "none.pt") + "'"),
                        "none.pt: checkpoint not found", "missing");
  expect_one_line_error(run_ddpm(train("--set model.num_res_blocks=2 --resume")),
                        "model.num_res_blocks = 1 but the config has 2", "other model");
}

TEST_F(Reliability, BadCommandArgumentsGiveOneClearLine) {
  ASSERT_EQ(run_ddpm(train("--set train.steps=1")).exit_code, 0);
  const std::string ckpt = "--ckpt '" + (dir_ / "run/last.pt") + "' --threads 1";
  struct Case {
    std::string args, message;
  };
  for (const Case& c : std::vector<Case>{
           {"sample " + ckpt + " --n 0", "--num 0: must be in [1, 65536]"},
           {"sample " + ckpt + " --n -5", "--num -5: must be in [1, 65536]"},
           {"sample " + ckpt + " --sampler dpmpp2m --steps -2",
            "--steps: sample.steps = -2: must be in [0, "},
           {"sample " + ckpt + " --batch 0", "--batch: sample.batch = 0: must be in [1, 65536]"},
           {"sample " + ckpt + " --class dog", "this model is unconditional"},
           {"sample " + ckpt + " --guidance 3", "--guidance needs a class-conditional model"},
           {"sample " + ckpt + " --out /proc/ddpm-test/grid.png", "/proc/ddpm-test"},
           {"sample " + ckpt + " --device cuda:7", "device cuda:7"},
           {"bench --config configs/tiny.json --repeats 0", "--repeats 0: must be in [1, 10000]"},
           {"bench --config configs/tiny.json --what everything",
            "--what 'everything': expected train, sample or train,sample"},
           {"eval " + ckpt + " --data /nonexistent-folder", "/nonexistent-folder"},
       }) {
    expect_one_line_error(run_ddpm(c.args), c.message, c.args);
  }
}

TEST_F(Reliability, UnwritableRunFolderIsNamed) {
  // /proc refuses new files even to root, unlike permission bits.
  auto r = run_ddpm(test::tiny_train_args("/proc/ddpm-test-run", data(), "--set train.steps=1"));
  expect_one_line_error(r, "run folder /proc/ddpm-test-run: cannot create or write", "/proc");
  test::write_file(dir_ / "a_file", "x");
  r = run_ddpm(test::tiny_train_args(dir_ / "a_file/run", data(), "--set train.steps=1"));
  expect_one_line_error(r, "cannot create or write", "file as folder");
}

TEST_F(Reliability, FullDiskWhileSavingKeepsThePreviousCheckpoint) {
  ASSERT_EQ(run_ddpm(train("--set train.steps=2")).exit_code, 0);
  const std::string before = test::read_file(dir_ / "run/last.pt");
  ASSERT_GT(before.size(), 200u * 1024);
  // A file-size limit (in 1 KiB blocks) below the checkpoint's size: the write fails with EFBIG
  // exactly as it would on a full disk.
  auto r = run_ddpm(train("--set train.steps=4 --resume"), DDPM_SOURCE_DIR,
                    "ulimit -f " + std::to_string(before.size() / 2048) + ";");
  expect_one_line_error(r, "last.pt: write failed (File too large); the previous file", "ulimit");
  EXPECT_NE(r.err.find("saving step 4 failed: free disk space, then continue with --resume"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(test::read_file(dir_ / "run/last.pt"), before);  // byte for byte
  for (const auto& e : fs::directory_iterator(dir_.path() / "run")) {
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();
  }
  // With space again, the run continues from the intact checkpoint.
  auto resumed = run_ddpm(train("--set train.steps=4 --resume"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(Checkpoint::open(dir_ / "run/last.pt").meta().step, 4);
}

TEST_F(Reliability, NonFiniteLossesAreSkippedAndCounted) {
  auto r = run_ddpm(train("--set train.steps=6 --set train.log_every=1"), DDPM_SOURCE_DIR,
                    "export DDPM_INJECT_NONFINITE=2,4,4;");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("non-finite loss at step 2, step skipped (1 so far)"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("non-finite loss at step 4, step skipped (3 so far)"), std::string::npos)
      << r.err;
  Checkpoint ckpt = Checkpoint::open(dir_ / "run/last.pt");
  EXPECT_EQ(ckpt.meta().step, 6);  // every step still trained
  EXPECT_EQ(ckpt.meta().nonfinite_skipped, 3);
  EXPECT_NE(test::read_file(dir_ / "run/metrics.jsonl").find("\"nonfinite_skipped\":3"),
            std::string::npos);
  // The weights stayed finite.
  UNet model(ckpt.meta().config.model);
  ckpt.load_module("model", *model, torch::kCPU);
  for (const auto& p : model->parameters()) ASSERT_TRUE(torch::isfinite(p).all().item<bool>());
}

TEST_F(Reliability, TooManyNonFiniteLossesStopWithTheLastGoodCheckpoint) {
  auto r = run_ddpm(train("--set train.steps=10 --set train.checkpoint_every=2 "
                          "--set train.max_nonfinite=3"),
                    DDPM_SOURCE_DIR, "export DDPM_INJECT_NONFINITE=5,5,5;");
  expect_one_line_error(r, "the loss was not finite for 3 steps in a row at step 5", "diverged");
  EXPECT_NE(r.err.find("last good checkpoint"), std::string::npos);
  EXPECT_EQ(Checkpoint::open(dir_ / "run/last.pt").meta().step, 4);
}

TEST_F(Reliability, SigtermSavesAndExitsZero) {
  const std::string log = dir_ / "log.txt";
  pid_t pid = test::spawn_ddpm(train("--set train.steps=100000 --set train.log_every=1"), log);
  for (int i = 0; i < 600 && !fs::exists(dir_.path() / "run/metrics.jsonl"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(pid, SIGTERM);
  EXPECT_EQ(test::wait_exit(pid), 0) << test::read_file(log);
  EXPECT_NE(test::read_file(log).find("stopped by signal 15"), std::string::npos);
  const int64_t saved = Checkpoint::open(dir_ / "run/last.pt").meta().step;
  EXPECT_GT(saved, 0);
  auto resumed = run_ddpm(train("--set train.steps=" + std::to_string(saved + 2) + " --resume"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(Checkpoint::open(dir_ / "run/last.pt").meta().step, saved + 2);
}

}  // namespace
}  // namespace ddpm
