// Issue 15, through the real binary: adversarial arguments and configs. Every class of the issue
// (crashes, hangs, good input rejected, bad input accepted, messages that name nothing) has its
// reported case and cases of our own. Each must give one clear error line and exit 1.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "ddpm/base/progress.h"
#include "test_util.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;
using test::expect_one_line_error;
using test::run_ddpm;

class AdversarialArgs : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir;
    test::make_emoji_folder(*dir_ / "emoji", 16);
    // One trained checkpoint for the sample/eval/bench cases.
    const auto r =
        run_ddpm(test::tiny_train_args(*dir_ / "run", *dir_ / "emoji", "--set train.steps=1"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string ckpt() { return "--ckpt '" + (*dir_ / "run/last.pt") + "' --threads 1"; }
  static std::string file(const std::string& name, const std::string& text) {
    test::write_file(*dir_ / name, text);
    return *dir_ / name;
  }
  static test::TempDir* dir_;
};
test::TempDir* AdversarialArgs::dir_ = nullptr;

std::string repeat(const std::string& s, size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

TEST_F(AdversarialArgs, VeryLongArgumentsAreRefusedNotACrash) {
  const std::string a30k(30000, 'a'), a100k(100000, 'a'), a5k(5000, 'a');
  for (const auto& args : std::vector<std::string>{
           "info --" + a30k,           // the issue's option name
           "sample --class=" + a100k,  // the issue's value
           "train --config " + a5k,    // a path
           "info --config configs/tiny.json --set train.run_dir=" + a5k,
           "sample " + ckpt() + " --out " + std::string(4097, 'x'),
           "bench " + a30k,  // a positional
       }) {
    expect_one_line_error(run_ddpm(args), "characters long, above the limit of 4096",
                          args.substr(0, 40));
  }
  // 4096 characters are still accepted as an argument (and fail for their own reason).
  expect_one_line_error(run_ddpm("info --config " + std::string(4000, 'b')),
                        "config file not found", "4000");
}

TEST_F(AdversarialArgs, DeeplyNestedJsonIsRefusedNotACrash) {
  const std::string deep = repeat("[", 100000) + repeat("]", 100000);
  for (const auto& text : std::vector<std::string>{
           deep,                                   // top level (the issue's)
           "{\"model\": " + deep + "}",            // a section's value
           "{\"train\": {\"lr\": " + deep + "}}",  // a key's value
           "{\"a\": " + repeat("{\"b\": ", 70) + "1" + repeat("}", 70) + "}",  // objects
       }) {
    const auto path = file("deep.json", text);
    expect_one_line_error(run_ddpm("info --config '" + path + "'"),
                          "invalid JSON: nested deeper than 64 levels", text.substr(0, 20));
  }
  // Strings that merely contain brackets are not nesting.
  const auto ok = file("brackets.json", "{\"name\": \"" + repeat("[", 200) + "\"}");
  const auto r = run_ddpm("info --config '" + ok + "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(AdversarialArgs, EveryCountThatSetsWorkHasAnUpperBound) {
  struct Case {
    std::string args, message;
  };
  const std::string tiny = "--config configs/tiny.json --threads 1 ";
  const std::string info = "--config configs/tiny.json --set ";
  for (const Case& c : std::vector<Case>{
           {"sample " + ckpt() + " --n 1000000000", "--num 1000000000: must be in [1, 65536]"},
           {"sample " + ckpt() + " --n 60000 --nrow 1", "or 65535 a side"},  // the grid
           {"sample " + ckpt() + " --n 4 --nrow 100000", "--nrow 100000: must be in [1, 4]"},
           {"sample " + ckpt() + " --batch 100000000", "--batch: sample.batch = 100000000"},
           {"eval " + ckpt() + " --data '" + (*dir_ / "emoji") +
                "' --classifier x.pt --n 1000000000",
            "--num 1000000000: must be in [2, 100000]"},
           {"eval " + ckpt() + " --data '" + (*dir_ / "emoji") + "' --subset 1000000",
            "--subset 1000000: must be in [0, 100]"},
           {"eval " + ckpt() + " --data '" + (*dir_ / "emoji") +
                "' --fid --features f.pt --features-size 100000",
            "--features-size 100000: must be in [0, 1024]"},
           {"bench " + tiny + "--repeats 1000000000",
            "--repeats 1000000000: must be in [1, 10000]"},
           {"bench " + tiny + "--warmup 1000000000", "--warmup 1000000000: must be in [0, 10000]"},
           {"bench " + tiny + "--batch 10000000", "--batch 10000000: must be in [0, 65536]"},
           {"info " + info + "train.batch_size=1000000", "train.batch_size = 1000000"},
           {"info " + info + "train.steps=1e13", "train.steps = 10000000000000"},
           {"info " + info + "train.preview_n=100000", "train.preview_n = 100000"},
           {"info " + info + "train.eval_bpd_subset=5000", "train.eval_bpd_subset = 5000"},
           {"info " + info + "model.num_classes=10000000", "model.num_classes = 10000000"},
       }) {
    expect_one_line_error(run_ddpm(c.args), c.message, c.args);
  }
}

TEST_F(AdversarialArgs, GoodInputIsAccepted) {
  // The README's own example: --set values are never split at commas.
  auto r = run_ddpm(
      "info --config configs/tiny.json --set model.channel_mults=[1,2,2] "
      "--set model.attention_resolutions=[8,4]");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"channel_mults\": [\n      1,\n      2,\n      2\n    ]"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\"attention_resolutions\": [\n      8,\n      4\n    ]"),
            std::string::npos);
  // A comma inside a string value stays in the string.
  r = run_ddpm("info --config configs/tiny.json --set data.path=a,b");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("\"path\": \"a,b\""), std::string::npos) << r.out;
}

TEST_F(AdversarialArgs, FlagsAreValidatedLikeTheConfigKeysTheyStandFor) {
  struct Case {
    std::string args, message;
  };
  const std::string data = " --data '" + (*dir_ / "emoji") + "'";
  for (const Case& c : std::vector<Case>{
           {"sample " + ckpt() + " --threads -3",
            "--threads: train.threads = -3: must be in [0, 1024]"},
           {"sample " + ckpt() + " --threads 100000", "--threads: train.threads = 100000"},
           {"eval " + ckpt() + data + " --threads -3", "--threads: train.threads = -3"},
           {"bench --config configs/tiny.json --threads -3", "--threads: train.threads = -3"},
           {"sample " + ckpt() + " --device tpu", "--device: train.device = tpu"},
           {"sample " + ckpt() + " --eta -1", "--eta: sample.eta = -1: must be in [0, 10]"},
           {"sample " + ckpt() + " --churn 1e9", "--churn: sample.churn = 1e+09"},
           {"sample " + ckpt() + " --steps 0 --sampler ddim", "--steps 0: must be at least 1"},
           {"eval " + ckpt() + data + " --batch 0", "--batch: sample.batch = 0"},
           {"bench --config configs/tiny.json --what ''", "--what '': expected train, sample"},
           {"data emoji --limit -5 --out '" + (*dir_ / "e3") + "'",
            "--limit -5: must be non-negative"},
           {"bench --config configs/tiny.json --what train,train", "train is given twice"},
           {"bench --config configs/tiny.json --what sample,,train", "--what 'sample,,train'"},
       }) {
    expect_one_line_error(run_ddpm(c.args), c.message, c.args);
  }
}

TEST_F(AdversarialArgs, ConfigValuesAreCheckedForRangeTypeAndDuplicates) {
  struct Case {
    std::string text, message;
  };
  for (const Case& c : std::vector<Case>{
           {R"({"train":{"lr":0.001,"lr":0.002}})", "duplicate key train.lr (it is given twice"},
           {R"({"train":{"lr":0.001},"train":{"steps":3}})", "duplicate key train "},
           {R"({"name":"a","name":"b"})", "duplicate key name "},
           {R"({"train":{"batch_size":18446744073709551615}})",
            "train.batch_size: expected an integer below 2^63, got 18446744073709551615"},
           {R"({"train":{"lr":1e300}})", "train.lr = 1e+300: must be a finite number"},
           {R"({"train":{"grad_clip":1e39}})", "train.grad_clip = 1e+39: must be a finite number"},
           {R"({"data":{"path":""}})", "data.path = \"\": must name a folder of images"},
       }) {
    const auto path = file("c.json", c.text);
    expect_one_line_error(run_ddpm("info --config '" + path + "'"), c.message, c.text);
  }
  for (const auto& set : {"train.lr=1e300", "train.batch_size=18446744073709551615",
                          "train.weight_decay=-1e39", "train.adam_eps=2"}) {
    const auto r = run_ddpm(std::string("info --config configs/tiny.json --set ") + set);
    expect_one_line_error(r, "train.", set);
  }
}

TEST_F(AdversarialArgs, FilesThatAreNotFilesAreNamed) {
  struct Case {
    std::string args, message;
  };
  const std::string big = file("big.json", "{\"name\": \"" + std::string(2 << 20, 'x') + "\"}");
  for (const Case& c : std::vector<Case>{
           {"info --config /dev/zero", "/dev/zero: is not a regular file (a device or pipe)"},
           {"info --config '" + big + "'", "big.json: the config file is larger than 1024 KiB"},
           {"info --config /tmp", "/tmp: is a folder, expected a config file"},
           {"info --ckpt /tmp", "/tmp: is a folder, expected a checkpoint"},
           {"sample --ckpt /dev/null", "/dev/null: is not a regular file (a device or pipe)"},
           {"sample --ckpt /dev/zero", "/dev/zero: is not a regular file"},
           {"data emoji --font /tmp --out '" + (*dir_ / "e2") + "'",
            "/tmp: is a folder, expected a font file"},
           {"eval " + ckpt() + " --data '" + (*dir_ / "emoji") + "' --classifier /tmp",
            "/tmp: is a folder, expected a TorchScript file"},
           {"eval " + ckpt() + " --data '" + (*dir_ / "emoji") + "' --fid --features /tmp",
            "/tmp: is a folder, expected a TorchScript file"},
       }) {
    expect_one_line_error(run_ddpm(c.args), c.message, c.args);
  }
}

TEST_F(AdversarialArgs, AMissingHeldOutFolderIsNamedByItsKey) {
  const auto r = run_ddpm(test::tiny_train_args(
      *dir_ / "heldout-run", *dir_ / "emoji",
      "--set train.steps=2 --set train.eval_every=1 --set data.heldout_path='" + (*dir_ / "nope") +
          "'"));
  expect_one_line_error(r, "data.heldout_path " + (*dir_ / "nope") + ": the folder does not exist",
                        "heldout");
}

TEST(ProgressLineTest, EndsAnOpenLineBeforeAnythingElseIsPrinted) {
  std::ostringstream tty, log;
  {
    ProgressLine terminal(tty, true), plain(log, false);
    terminal.update("step 1");
    terminal.update("step 2");
    plain.update("step 1");
    plain.update("step 2");
    EXPECT_EQ(tty.str(), "\rstep 1\033[K\rstep 2\033[K");  // still open
  }                                                        // destroyed, as during stack unwinding
  EXPECT_EQ(tty.str(), "\rstep 1\033[K\rstep 2\033[K\n");
  EXPECT_EQ(log.str(), "step 1\nstep 2\n");
}

TEST_F(AdversarialArgs, AnErrorAfterATerminalProgressLineStartsItsOwnLine) {
  if (std::system("command -v script >/dev/null 2>&1") != 0) GTEST_SKIP() << "no script(1)";
  // A pseudo-terminal makes the trainer draw its in-place progress line; three non-finite losses in
  // a row then stop the run with an error.
  const std::string cmd =
      std::string(DDPM_BINARY) + " " +
      test::tiny_train_args(*dir_ / "tty-run", *dir_ / "emoji",
                            "--set train.log_every=1 --set train.max_nonfinite=2");
  test::write_file(*dir_ / "tty.sh",
                   "cd '" DDPM_SOURCE_DIR "' && DDPM_INJECT_NONFINITE=3,3 " + cmd);
  const std::string out_path = *dir_ / "tty.out";
  // ddpm exits 1 (the injected failure): its output is what is checked.
  const int status = std::system(("script -qec \"sh '" + (*dir_ / "tty.sh") + "'\" /dev/null > '" +
                                  out_path + "' 2>&1 < /dev/null")
                                     .c_str());
  EXPECT_NE(status, -1) << "could not run script(1)";
  const std::string out = test::read_file(out_path);
  const auto at = out.find("ddpm: error: ");
  ASSERT_NE(at, std::string::npos) << out;
  ASSERT_GT(at, 0u);
  EXPECT_EQ(out[at - 1], '\n') << out;
  EXPECT_NE(out.find("\rstep "), std::string::npos) << out;  // the progress line was drawn in place
}

}  // namespace
}  // namespace ddpm
