// The class-labelled emoji data set: a colour-bitmap font built in the test (cmap format 12, a GSUB
// ligature lookup inside an extension, CBLC/CBDT with PNG glyphs) and an emoji-test.txt made in
// the test, with known groups; then Debian's real font and file, where installed.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "ddpm/base/file_input.h"
#include "ddpm/data/builtin/emoji.h"
#include "ddpm/data/builtin/emoji_groups.h"
#include "ddpm/data/builtin/font_tables.h"
#include "ddpm/data/image_io.h"
#include "fixtures.h"
#include "test_util.h"

namespace ddpm {
namespace {

using test::Bytes;
using test::kEmojiTest;
using test::kGlyphs;
using test::shade;
using test::test_font;
using test::write_bytes;

TEST(EmojiGroups, ParsesTheTestFileIntoGroupsWithoutVariationSelectors) {
  const EmojiGroups groups = parse_emoji_test(kEmojiTest, "emoji-test.txt");
  ASSERT_EQ(groups.names, (std::vector<std::string>{"Smileys & Emotion", "People & Body",
                                                    "Component", "Symbols"}));
  EXPECT_EQ(groups.group_of.at({0x1F468, 0x200D, 0x1F9B0}), 1);
  EXPECT_EQ(groups.group_of.at({0x27A1}), 3);  // "27A1 FE0F" and "27A1" are one sequence
  EXPECT_EQ(groups.zwj_heads, (std::set<uint32_t>{0x1F468}));
  EXPECT_EQ(group_folder_name(1, 10, "People & Body"), "1_People-Body");
  EXPECT_EQ(group_folder_name(3, 12, "Symbols"), "03_Symbols");
}

TEST(EmojiGroups, ABadTestFileIsAClearError) {
  EXPECT_EQ(test::error_of([] { parse_emoji_test("# group: A\n1F60Z ; x\n", "t.txt"); }),
            "t.txt:2: '1F60Z' is not a code point (hex, at most 10FFFF)");
  EXPECT_EQ(test::error_of([] { parse_emoji_test("1F600 ; x\n", "t.txt"); }),
            "t.txt:1: a sequence before the first '# group:' line");
  EXPECT_NE(test::error_of([] { parse_emoji_test("hello\n", "t.txt"); }).find("no '# group:'"),
            std::string::npos);
  EXPECT_NE(test::error_of([] {
              read_emoji_test("/nonexistent/emoji-test.txt");
            }).find("apt-get install unicode-data"),
            std::string::npos);
}

TEST(EmojiGroups, ReadsTheFontTablesAndGroupsEachGlyph) {
  const FontTables font = parse_font_tables(test_font(), "test.ttf");
  EXPECT_EQ(font.cmap.at(0x1F600), 1);
  EXPECT_EQ(font.ligatures.at(5).size(), 2u);
  EXPECT_EQ(font.pngs.size(), kGlyphs - 2u);  // glyphs 1..8 but the ZWJ
  EXPECT_EQ(glyph_sequences(font, 5).size(), 2u);
  const EmojiGroups groups = parse_emoji_test(kEmojiTest, "emoji-test.txt");
  const std::vector<int> expected = {-1, 0, 3, -1, 2, 1, -1, 1, 1};
  for (uint16_t g = 1; g < kGlyphs; ++g) EXPECT_EQ(glyph_group(font, groups, g), expected[g]) << g;
  // All pictures at once: the same groups, one entry per glyph with a PNG.
  const std::map<uint16_t, int> all = glyph_groups(font, groups);
  EXPECT_EQ(all.size(), font.pngs.size());
  for (const auto& [glyph, group] : all) EXPECT_EQ(group, expected.at(glyph)) << glyph;
}

TEST(EmojiGroups, WritesOneClassFolderPerGroup) {
  test::TempDir dir;
  write_bytes(dir / "test.ttf", test_font());
  test::write_file(dir / "emoji-test.txt", kEmojiTest);
  const auto [names, written] =
      extract_emoji_groups(dir / "test.ttf", dir / "emoji-test.txt", dir / "out");
  EXPECT_EQ(written, (std::vector<int64_t>{1, 3, 1, 1}));
  EXPECT_EQ(names, (std::vector<std::string>{"Smileys & Emotion", "People & Body", "Component",
                                             "Symbols"}));
  // Numbered in the font's order, skipping glyph 6: glyph 5 is the fourth written.
  const Image man_red_hair = decode_image_file(dir / "out/1_People-Body/emoji_0003.png");
  EXPECT_EQ(man_red_hair.pixels[64 * 128 * 3], shade(5));
  EXPECT_TRUE(std::filesystem::exists(dir / "out/3_Symbols/emoji_0001.png"));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir / "out"), {}), 4);
}

// `ddpm data emoji --by-subgroup`: a class per subgroup, named after its group; a sequence the file
// does not know takes the subgroup of its longest known leading part, as it takes the group.
TEST(EmojiGroups, SubgroupsAreClassesNamedAfterTheirGroup) {
  const EmojiGroups subgroups =
      parse_emoji_test(kEmojiTest, "emoji-test.txt", EmojiLevel::subgroup);
  EXPECT_EQ(subgroups.names,
            (std::vector<std::string>{"Smileys & Emotion face-smiling", "People & Body person",
                                      "People & Body person-hair", "Component hair-style",
                                      "Symbols arrow"}));
  const FontTables font = parse_font_tables(test_font(), "test.ttf");
  const std::vector<int> expected = {-1, 0, 4, -1, 3, 2, -1, 1, 1};
  for (uint16_t g = 1; g < kGlyphs; ++g)
    EXPECT_EQ(glyph_group(font, subgroups, g), expected[g]) << g;
  test::TempDir dir;
  write_bytes(dir / "test.ttf", test_font());
  test::write_file(dir / "emoji-test.txt", kEmojiTest);
  const auto [names, written] = extract_emoji_groups(dir / "test.ttf", dir / "emoji-test.txt",
                                                     dir / "out", 0, EmojiLevel::subgroup);
  EXPECT_EQ(names, subgroups.names);
  EXPECT_EQ(written, (std::vector<int64_t>{1, 2, 1, 1, 1}));
  const Image man_red_hair =
      decode_image_file(dir / "out/2_People-Body-person-hair/emoji_0003.png");
  EXPECT_EQ(man_red_hair.pixels[64 * 128 * 3], shade(5));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir / "out"), {}), 5);
  EXPECT_EQ(test::error_of([] {
              parse_emoji_test("# subgroup: a\n1F600 ; x\n", "t.txt", EmojiLevel::subgroup);
            }),
            "t.txt:1: a '# subgroup:' line before the first '# group:' line");
  EXPECT_EQ(test::error_of(
                [] { parse_emoji_test("# group: A\n1F600 ; x\n", "t.txt", EmojiLevel::subgroup); }),
            "t.txt:2: a sequence before the first '# subgroup:' line");
}

TEST(EmojiGroups, ATruncatedFontIsAClearError) {
  test::TempDir dir;
  Bytes font = test_font();
  font.resize(font.size() / 2);
  write_bytes(dir / "cut.ttf", font);
  test::write_file(dir / "emoji-test.txt", kEmojiTest);
  const std::string message = test::error_of(
      [&] { extract_emoji_groups(dir / "cut.ttf", dir / "emoji-test.txt", dir / "out"); });
  EXPECT_EQ(message.rfind(dir / "cut.ttf: ", 0), 0u) << message;
  EXPECT_NE(message.find("(truncated or corrupt font)"), std::string::npos) << message;
  font = test_font();
  font[4] = 0, font[5] = 3;  // three tables: no cmap
  EXPECT_NE(test::error_of([&] { parse_font_tables(font, "f.ttf"); }).find("cmap table: missing"),
            std::string::npos);
}

// Every cut and a few thousand random byte changes of the test font: a result whose PNG ranges lie
// inside the bytes, or a ddpm::Error; never a crash or a hang (scripts/dev/fuzz.sh goes further).
TEST(EmojiGroups, CutOrCorruptFontsEndInAResultOrAClearError) {
  const Bytes font = test_font();
  const EmojiGroups groups = parse_emoji_test(kEmojiTest, "emoji-test.txt");
  int errors = 0;
  const auto attempt = [&](const Bytes& bytes) {
    try {
      const FontTables parsed = parse_font_tables(bytes, "m.ttf");
      for (const auto& [glyph, range] : parsed.pngs) {
        EXPECT_LE(range.second, bytes.size());
        glyph_group(parsed, groups, glyph);
      }
    } catch (const Error&) {
      ++errors;
    }
  };
  for (size_t n = 0; n < font.size(); n += 5) attempt(Bytes(font.begin(), font.begin() + n));
  std::mt19937 rng(0);
  for (int i = 0; i < 3000; ++i) {
    Bytes bytes = font;
    for (int k = 0; k < 3; ++k) bytes[rng() % bytes.size()] = static_cast<uint8_t>(rng());
    attempt(bytes);
  }
  EXPECT_GT(errors, 100);
}

// Debian's Noto Color Emoji and unicode-data, where installed: every group gets pictures, and
// a few known glyphs land where a person would put them.
TEST(EmojiGroups, DebiansFontFallsIntoItsUnicodeGroups) {
  if (!std::filesystem::exists(kEmojiFontPath) || !std::filesystem::exists(kEmojiTestPath))
    GTEST_SKIP() << "fonts-noto-color-emoji or unicode-data not installed";
  const FontTables font = parse_font_tables(read_file_bytes(kEmojiFontPath, "font"), "noto");
  const EmojiGroups groups = read_emoji_test(kEmojiTestPath);
  std::vector<int> count(groups.names.size(), 0);
  int none = 0;
  for (const auto& [glyph, range] : font.pngs) {
    const int g = glyph_group(font, groups, glyph);
    g < 0 ? ++none : ++count[g];
  }
  for (size_t g = 0; g < count.size(); ++g) EXPECT_GT(count[g], 5) << groups.names[g];
  EXPECT_LT(none, 100);
  const auto group_name = [&](uint32_t cp) {
    return groups.names[glyph_group(font, groups, font.cmap.at(cp))];
  };
  EXPECT_EQ(group_name(0x1F600), "Smileys & Emotion");
  EXPECT_EQ(group_name(0x1F355), "Food & Drink");      // pizza
  EXPECT_EQ(group_name(0x1F981), "Animals & Nature");  // lion
  // Subgroups: every one gets a picture.
  const EmojiGroups subgroups = read_emoji_test(kEmojiTestPath, EmojiLevel::subgroup);
  EXPECT_GT(subgroups.names.size(), 90u);
  const std::map<uint16_t, int> subgroup_of = glyph_groups(font, subgroups);
  std::vector<int> per_subgroup(subgroups.names.size(), 0);
  for (const auto& [glyph, s] : subgroup_of)
    if (s >= 0) ++per_subgroup[s];
  for (size_t s = 0; s < per_subgroup.size(); ++s)
    EXPECT_GT(per_subgroup[s], 0) << subgroups.names[s];
  const auto subgroup_name = [&](uint32_t cp) {
    return subgroups.names[subgroup_of.at(font.cmap.at(cp))];
  };
  EXPECT_EQ(subgroup_name(0x1F355), "Food & Drink food-prepared");
  EXPECT_EQ(subgroup_name(0x1F981), "Animals & Nature animal-mammal");
}

}  // namespace
}  // namespace ddpm
