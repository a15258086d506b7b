// safetensors export/import (issue 19): the format against an independent reading of its bytes, the
// reader's checks, and export → import → sample giving byte-identical PNGs through the binary.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "ddpm/io/checkpoint.h"
#include "ddpm/io/safetensors.h"
#include "ddpm/model/unet.h"
#include "test_util.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::run_ddpm;

class SafeTensorsCli : public ::testing::Test {
 protected:
  void SetUp() override {
    test::make_emoji_folder(dir_ / "emoji", 16);
    const auto r =
        run_ddpm(test::tiny_train_args(dir_ / "run", dir_ / "emoji", "--set train.steps=3"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  std::string sample(const std::string& ckpt, const std::string& out) {
    return "sample --threads 1 --n 4 --sampler ddim --steps 5 --seed 9 --ckpt '" + ckpt +
           "' --out '" + out + "'";
  }
  test::TempDir dir_;
};

TEST_F(SafeTensorsCli, ExportImportSampleGivesByteIdenticalPngs) {
  const std::string ckpt = dir_ / "run/last.pt";
  ASSERT_EQ(run_ddpm(sample(ckpt, dir_ / "a.png")).exit_code, 0);
  auto r = run_ddpm("export --ckpt '" + ckpt + "' --out '" + (dir_ / "m.safetensors") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("ema weights, step 3"), std::string::npos) << r.out;

  // The file, read independently, holds the checkpoint's EMA weights under the module paths.
  const std::string text = test::read_file(dir_ / "m.safetensors");
  const std::vector<uint8_t> bytes(text.begin(), text.end());
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  const json header =
      json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  const Checkpoint original = Checkpoint::open(ckpt);
  UNet model(original.meta().config.model);
  original.load_module("ema", *model, torch::kCPU);
  const auto tensors = module_tensors(*model);
  EXPECT_EQ(header.size(), tensors.size() + 1);  // + __metadata__
  EXPECT_EQ(header["__metadata__"]["ddpm:step"], "3");
  EXPECT_EQ(header["__metadata__"]["ddpm:weights"], "ema");
  for (const auto& [name, t] : tensors) {
    ASSERT_TRUE(header.contains(name)) << name;
    const auto& e = header[name];
    EXPECT_EQ(e["dtype"], "F32") << name;
    EXPECT_EQ(e["shape"].get<std::vector<int64_t>>(), t.sizes().vec()) << name;
    const auto begin = e["data_offsets"][0].get<uint64_t>(),
               end = e["data_offsets"][1].get<uint64_t>();
    ASSERT_EQ(end - begin, static_cast<uint64_t>(t.numel()) * 4) << name;
    EXPECT_EQ(
        std::memcmp(bytes.data() + 8 + n + begin, t.contiguous().data_ptr<float>(), end - begin), 0)
        << name;
  }

  // Imported into the same path, the checkpoint draws the same grid, byte for byte.
  fs::rename(ckpt, dir_ / "run/original.pt");
  r = run_ddpm("import --weights '" + (dir_ / "m.safetensors") + "' --out '" + ckpt + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(run_ddpm(sample(ckpt, dir_ / "b.png")).exit_code, 0);
  EXPECT_EQ(test::read_file(dir_ / "a.png"), test::read_file(dir_ / "b.png"));
  r = run_ddpm("info --ckpt '" + ckpt + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("step: 3"), std::string::npos) << r.out;
  test::expect_one_line_error(
      run_ddpm(test::tiny_train_args(dir_ / "run", dir_ / "emoji", "--set train.steps=5 --resume")),
      "no training state", "resume an import");
}

TEST_F(SafeTensorsCli, ImportChecksTheWeightsAgainstTheConfig) {
  const std::string ckpt = dir_ / "run/last.pt";
  ASSERT_EQ(
      run_ddpm("export --raw --ckpt '" + ckpt + "' --out '" + (dir_ / "raw.safetensors") + "'")
          .exit_code,
      0);
  struct Case {
    std::string args, message;
  };
  for (const Case& c : std::vector<Case>{
           {"import --weights '" + (dir_ / "raw.safetensors") + "' --out '" + (dir_ / "x.pt") +
                "' --config '" + test::source_path("configs/default.json") + "'",
            "has shape ["},
           {"import --weights '" + (dir_ / "emoji") + "' --out '" + (dir_ / "x.pt") + "'",
            "is a folder, expected a safetensors file"},
           {"import --weights '" + ckpt + "' --out '" + (dir_ / "x.pt") + "'",
            "not a safetensors file"},
           {"export --ckpt '" + (dir_ / "none.pt") + "' --out '" + (dir_ / "y.safetensors") + "'",
            "checkpoint not found"},
       }) {
    test::expect_one_line_error(run_ddpm(c.args), c.message, c.args);
  }
  EXPECT_FALSE(fs::exists(dir_ / "x.pt"));
  // With the right config given explicitly, the raw weights import.
  const auto r =
      run_ddpm("import --weights '" + (dir_ / "raw.safetensors") + "' --out '" + (dir_ / "x.pt") +
               "' --config '" + test::source_path("configs/tiny.json") + "'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

}  // namespace
}  // namespace ddpm
