// safetensors export/import (issue 19): the format against an independent reading of its bytes, the
// reader's checks, and export → import → sample giving byte-identical PNGs through the binary.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "ddpm/checkpoint.h"
#include "ddpm/safetensors.h"
#include "ddpm/unet.h"
#include "test_util.h"

namespace ddpm {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::run_ddpm;

std::vector<uint8_t> bytes_of(const std::string& text) { return {text.begin(), text.end()}; }

// A file assembled by hand from a header JSON and raw data.
std::vector<uint8_t> handmade(const std::string& header, const std::vector<uint8_t>& data) {
  const uint64_t n = header.size();
  std::vector<uint8_t> out(8 + n);
  std::memcpy(out.data(), &n, 8);
  // Copied by hand: GCC 12 warns (-Wstringop-overread) on an inlined insert of an empty header.
  std::copy(header.begin(), header.end(), out.begin() + 8);
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

TEST(SafeTensors, RoundTripKeepsValuesDtypesShapesAndMetadata) {
  SafeTensors file;
  file.metadata = {{"format", "pt"}, {"note", "x"}};
  file.tensors["b.weight"] = torch::randn({3, 4});
  file.tensors["a.double"] = torch::randn({2}, torch::kFloat64);
  file.tensors["c.half"] = torch::randn({5}).to(torch::kFloat16);
  file.tensors["d.index"] = torch::arange(6, torch::kLong).view({2, 3});
  file.tensors["e.scalar"] = torch::tensor(2.5f);
  const auto bytes = encode_safetensors(file);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ((8 + n) % 8, 0u);  // the data starts 8-byte aligned
  const auto back = decode_safetensors(bytes, "mem");
  EXPECT_EQ(back.metadata, file.metadata);
  ASSERT_EQ(back.tensors.size(), file.tensors.size());
  for (const auto& [name, t] : file.tensors) {
    ASSERT_TRUE(back.tensors.count(name)) << name;
    EXPECT_EQ(back.tensors.at(name).scalar_type(), t.scalar_type()) << name;
    EXPECT_TRUE(torch::equal(back.tensors.at(name), t)) << name;
  }
}

TEST(SafeTensors, TheBytesAreWhatTheSpecificationSays) {
  // Independent of the reader: parse the header by hand and read each tensor's bytes.
  SafeTensors file;
  file.metadata = {{"k", "v"}};
  file.tensors["x"] = torch::tensor({1.0f, -2.0f, 3.5f});
  file.tensors["y"] = torch::tensor({7.0}, torch::kFloat64);
  const auto bytes = encode_safetensors(file);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  const json header =
      json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  EXPECT_EQ(header["__metadata__"], (json{{"k", "v"}}));
  EXPECT_EQ(header["x"], (json{{"dtype", "F32"}, {"shape", {3}}, {"data_offsets", {0, 12}}}));
  EXPECT_EQ(header["y"], (json{{"dtype", "F64"}, {"shape", {1}}, {"data_offsets", {12, 20}}}));
  float x[3];
  double y;
  std::memcpy(x, bytes.data() + 8 + n, 12);
  std::memcpy(&y, bytes.data() + 8 + n + 12, 8);
  EXPECT_EQ(x[0], 1.0f);
  EXPECT_EQ(x[1], -2.0f);
  EXPECT_EQ(x[2], 3.5f);
  EXPECT_EQ(y, 7.0);
  EXPECT_EQ(bytes.size(), 8 + n + 20);
}

TEST(SafeTensors, MalformedFilesGiveClearErrors) {
  const std::vector<uint8_t> four(16, 0);
  auto too_long = handmade("{}", {});
  too_long[0] = 200;  // a header length beyond the file
  struct Case {
    std::vector<uint8_t> bytes;
    std::string message;
  };
  for (
      const Case& c : std::vector<Case>{
          {{1, 2, 3}, "shorter than its 8-byte header length"},
          {too_long, "exceeds the file"},
          {handmade("{\"x\": ", {}), "invalid JSON"},
          {handmade("[1]", {}), "the header is not a JSON object"},
          {handmade(R"({"x":{"dtype":"F8","shape":[1],"data_offsets":[0,1]}})", {0}),
           "unsupported dtype \"F8\""},
          {handmade(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", {0, 0, 0, 0}),
           "do not hold its 8 bytes"},
          {handmade(
               R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"y":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
               {0, 0, 0, 0}),
           "overlaps or leaves a gap"},
          {handmade(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", four),
           "overlaps or leaves a gap at byte 0"},
          {handmade(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", four),
           "12 bytes after the last tensor"},
          {handmade(R"({"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", four),
           "bad shape"},
          {handmade(R"({"x":{"dtype":"F32"}})", {}), "needs dtype, shape and data_offsets"},
          {handmade(R"({"__metadata__":{"a":1}})", {}), "__metadata__ must map strings to strings"},
      }) {
    EXPECT_NE(test::error_of([&] { decode_safetensors(c.bytes, "w.safetensors"); }).find(c.message),
              std::string::npos)
        << c.message << ": "
        << test::error_of([&] { decode_safetensors(c.bytes, "w.safetensors"); });
  }
}

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
  const auto bytes = bytes_of(test::read_file(dir_ / "m.safetensors"));
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
