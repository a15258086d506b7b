// Fixtures shared by library and end-to-end tests: a tiny emoji font with its emoji-test.txt,
// Fashion-MNIST's IDX files, a toy classifier and a feature network, each written here.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "test_util.h"

namespace ddpm::test {

using Bytes = std::vector<uint8_t>;

// The test font's glyph count and the emoji-test.txt that groups its glyphs: 1 U+1F600, 2 U+27A1
// (arrow), 3 U+200D (ZWJ, no picture), 4 U+1F9B0 (red hair), 5 man+ZWJ+red hair, 6 U+1F1E6 (no
// group), 7 man+ZWJ+arrow (a sequence the test file does not know), 8 U+1F468 (man).
constexpr uint16_t kGlyphs = 9;
extern const char* const kEmojiTest;
// The grey level of glyph g's picture in the test font.
uint8_t shade(uint16_t glyph);
// An OpenType font with cmap, GSUB ligatures and CBLC/CBDT PNG bitmaps of those glyphs.
Bytes test_font();
void write_bytes(const std::string& path, const Bytes& bytes);

// An IDX file's bytes (unsigned byte data) and a gzipped file of them.
std::vector<uint8_t> idx_bytes(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data);
void write_gz(const std::string& path, const std::vector<uint8_t>& bytes);
// A fake dataset-fashion-mnist folder: 3 train and 2 test images with labels 9, 0, 3 (or
// bad_label) / 1, 1.
void write_fake_fashion(const std::string& dir, uint8_t bad_label = 0);

// The toy classifier (features: mean and mean square; logits ±10 × mean); with `record`, stored
// as its training record, as scripts/quality/*_classifier.py store theirs.
std::string write_toy_classifier(const TempDir& dir, const std::string& record = "");
extern const char* const kToyClassifierRecord;

// A feature network made here: average-pool to 2×2, flatten → 12 features.
std::string make_feature_module(const std::string& path);

}  // namespace ddpm::test
