// Fixtures shared by library and end-to-end tests: a tiny emoji font, Fashion-MNIST's IDX files, a
// toy classifier and a feature network.
#include "fixtures.h"

#include <torch/script.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "ddpm/data/image_io.h"
#include "ddpm/evaluation/classifier.h"

namespace ddpm::test {

namespace {

void put16(Bytes& b, uint32_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
void put32(Bytes& b, uint32_t v) {
  put16(b, v >> 16);
  put16(b, v & 0xFFFF);
}

// Glyphs of the test font: 1 U+1F600, 2 U+27A1 (arrow), 3 U+200D (ZWJ, no picture), 4 U+1F9B0
// (red hair), 5 the ligature man+ZWJ+red hair (listed reversed first, as fonts do for RTL runs),
// 6 U+1F1E6 (a lone regional indicator: no group), 7 man+ZWJ+arrow (a sequence the test file does
// not know, also reversed first), 8 U+1F468 (man).
const std::vector<std::pair<uint32_t, uint16_t>> kCmap = {{0x200D, 3},  {0x27A1, 2},  {0x1F1E6, 6},
                                                          {0x1F468, 8}, {0x1F600, 1}, {0x1F9B0, 4}};
const std::vector<std::pair<uint16_t, std::vector<uint16_t>>> kLigatures = {
    {5, {4, 3, 8}}, {5, {8, 3, 4}}, {7, {2, 3, 8}}, {7, {8, 3, 2}}};

Bytes cmap_table() {
  Bytes t;
  put16(t, 0), put16(t, 1), put16(t, 3), put16(t, 10), put32(t, 12);
  put16(t, 12), put16(t, 0), put32(t, 16 + 12 * kCmap.size()), put32(t, 0), put32(t, kCmap.size());
  for (const auto& [cp, glyph] : kCmap) put32(t, cp), put32(t, cp), put32(t, glyph);
  return t;
}

// One type-7 lookup whose extension holds a type-4 subtable; one ligature set per first glyph.
Bytes gsub_table() {
  const std::vector<uint16_t> firsts = {2, 4, 8};  // the coverage, sorted
  Bytes sub;                                       // LigatureSubstFormat1
  const size_t sets_at = 6 + 2 * firsts.size();
  Bytes body;  // coverage then ligature sets, offsets from the subtable start
  put16(body, 1), put16(body, firsts.size());
  for (uint16_t g : firsts) put16(body, g);
  std::vector<size_t> set_offsets;
  for (uint16_t first : firsts) {
    set_offsets.push_back(sets_at + body.size());
    std::vector<std::pair<uint16_t, std::vector<uint16_t>>> mine;
    for (const auto& lig : kLigatures)
      if (lig.second[0] == first) mine.push_back(lig);
    Bytes set;
    put16(set, mine.size());
    size_t at = 2 + 2 * mine.size();
    for (const auto& lig : mine) put16(set, at), at += 4 + 2 * (lig.second.size() - 1);
    for (const auto& [glyph, comps] : mine) {
      put16(set, glyph), put16(set, comps.size());
      for (size_t m = 1; m < comps.size(); ++m) put16(set, comps[m]);
    }
    body.insert(body.end(), set.begin(), set.end());
  }
  put16(sub, 1), put16(sub, sets_at), put16(sub, firsts.size());
  for (size_t off : set_offsets) put16(sub, off);
  sub.insert(sub.end(), body.begin(), body.end());
  Bytes t;  // header, lookup list, lookup, extension, subtable
  put16(t, 1), put16(t, 0), put16(t, 0), put16(t, 0), put16(t, 10);
  put16(t, 1), put16(t, 4);                            // lookup list at 10
  put16(t, 7), put16(t, 0), put16(t, 1), put16(t, 8);  // lookup at 14
  put16(t, 1), put16(t, 4), put32(t, 8);               // extension at 22
  t.insert(t.end(), sub.begin(), sub.end());           // subtable at 30
  return t;
}

// CBDT records (format 17: 5 bytes of metrics, the length, the PNG) for every glyph but the ZWJ.
void bitmap_tables(Bytes& cblc, Bytes& cbdt) {
  cbdt.clear(), put16(cbdt, 3), put16(cbdt, 0);
  std::vector<uint32_t> offsets;
  for (uint16_t g = 1; g < kGlyphs; ++g) {
    offsets.push_back(static_cast<uint32_t>(cbdt.size() - 4));
    if (g == 3) continue;
    Image im{128, 128, 3, Bytes(128 * 128 * 3, shade(g))};
    const Bytes png = encode_png(im);
    for (int k = 0; k < 5; ++k) cbdt.push_back(0);
    put32(cbdt, png.size());
    cbdt.insert(cbdt.end(), png.begin(), png.end());
  }
  offsets.push_back(static_cast<uint32_t>(cbdt.size() - 4));
  cblc.clear(), put16(cblc, 3), put16(cblc, 0), put32(cblc, 1);
  put32(cblc, 56), put32(cblc, 8 + 8 + 4 * offsets.size()), put32(cblc, 1);
  while (cblc.size() < 56) cblc.push_back(0);
  put16(cblc, 1), put16(cblc, kGlyphs - 1), put32(cblc, 8);  // glyphs 1..8
  put16(cblc, 1), put16(cblc, 17), put32(cblc, 4);
  for (uint32_t off : offsets) put32(cblc, off);
}

}  // namespace

uint8_t shade(uint16_t glyph) { return static_cast<uint8_t>(20 * glyph); }

const char* const kEmojiTest =
    "# emoji-test.txt made in the test\n"
    "# group: Smileys & Emotion\n"
    "# subgroup: face-smiling\n"
    "1F600 ; fully-qualified # grinning face\n"
    "# group: People & Body\n"
    "# subgroup: person\n"
    "1F468 ; fully-qualified # man\n"
    "# subgroup: person-hair\n"
    "1F468 200D 1F9B0 ; fully-qualified # man: red hair\n"
    "# group: Component\n"
    "# subgroup: hair-style\n"
    "1F9B0 ; component # red hair\n"
    "# group: Symbols\n"
    "# subgroup: arrow\n"
    "27A1 FE0F ; fully-qualified # right arrow\n"
    "27A1 ; unqualified # right arrow\n";

Bytes test_font() {
  Bytes cblc, cbdt;
  bitmap_tables(cblc, cbdt);
  const std::vector<std::pair<std::string, Bytes>> tables = {
      {"CBDT", cbdt}, {"CBLC", cblc}, {"GSUB", gsub_table()}, {"cmap", cmap_table()}};
  Bytes font;
  put32(font, 0x00010000), put16(font, tables.size()), put16(font, 0), put16(font, 0),
      put16(font, 0);
  size_t at = 12 + 16 * tables.size();
  for (const auto& [tag, data] : tables) {
    font.insert(font.end(), tag.begin(), tag.end());
    put32(font, 0), put32(font, at), put32(font, data.size());
    at += data.size();
  }
  for (const auto& table : tables)
    font.insert(font.end(), table.second.begin(), table.second.end());
  return font;
}

void write_bytes(const std::string& path, const Bytes& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

// The toy classifier; with `record`, stored as its training record, as scripts/*_classifier.py
// store theirs.
std::string write_toy_classifier(const TempDir& dir, const std::string& record) {
  torch::jit::Module m("ToyClassifier");
  m.define(R"(
def forward(self, x):
    m = x.mean(dim=[1, 2, 3])
    f = torch.stack([m, (x * x).mean(dim=[1, 2, 3])], 1)
    return f, torch.stack([-m, m], 1) * 10.0
)");
  const std::string path = dir / (record.empty() ? "toy.pt" : "toy_recorded.pt");
  torch::jit::ExtraFilesMap extra;
  if (!record.empty()) extra[kClassifierRecord] = record;
  m.save(path, extra);
  return path;
}

const char* const kToyClassifierRecord =
    R"({"script": "scripts/quality/fashion_classifier.py", "flip": false, "epochs": 4, )"
    R"("accuracy": 0.931})";

std::vector<uint8_t> idx_bytes(const std::vector<uint32_t>& dims,
                               const std::vector<uint8_t>& data) {
  std::vector<uint8_t> b = {0, 0, 0x08, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) {
    for (int shift : {24, 16, 8, 0}) b.push_back(static_cast<uint8_t>(d >> shift));
  }
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

void write_gz(const std::string& path, const std::vector<uint8_t>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())),
            static_cast<int>(bytes.size()));
  gzclose(f);
}

// A fake package folder: 3 train and 2 test images with labels 9, 0, 3 / 1, 1.
void write_fake_fashion(const std::string& dir, uint8_t bad_label) {
  std::filesystem::create_directories(dir);
  auto images = [](int n) {
    std::vector<uint8_t> px(static_cast<size_t>(n) * 784);
    for (int i = 0; i < n; ++i)
      std::fill(px.begin() + i * 784, px.begin() + (i + 1) * 784, 40 * (i + 1));
    return px;
  };
  write_gz(dir + "/train-images-idx3-ubyte.gz", idx_bytes({3, 28, 28}, images(3)));
  write_gz(dir + "/train-labels-idx1-ubyte.gz",
           idx_bytes({3}, {9, 0, static_cast<uint8_t>(bad_label ? bad_label : 3)}));
  write_gz(dir + "/t10k-images-idx3-ubyte.gz", idx_bytes({2, 28, 28}, images(2)));
  write_gz(dir + "/t10k-labels-idx1-ubyte.gz", idx_bytes({2}, {1, 1}));
}

// A feature network made here: average-pool to 2×2, flatten → 12 features.
std::string make_feature_module(const std::string& path) {
  torch::jit::Module m("Features");
  m.define(R"JIT(
def forward(self, x):
    return torch.flatten(torch.adaptive_avg_pool2d(x, [2, 2]), 1)
)JIT");
  m.save(path);
  return path;
}

}  // namespace ddpm::test
