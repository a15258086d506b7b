// The class-labelled emoji data set: a colour-bitmap font built in the test (cmap format 12, a GSUB
// ligature lookup inside an extension, CBLC/CBDT with PNG glyphs) and an emoji-test.txt made in
// the test, with known groups; then Debian's real font and file, where installed.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "ddpm/emoji.h"
#include "ddpm/emoji_groups.h"
#include "ddpm/file_input.h"
#include "ddpm/font_tables.h"
#include "ddpm/image_io.h"
#include "test_util.h"

namespace ddpm {
namespace {

using Bytes = std::vector<uint8_t>;

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
constexpr uint16_t kGlyphs = 9;

const char* kEmojiTest =
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

uint8_t shade(uint16_t glyph) { return static_cast<uint8_t>(20 * glyph); }

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
// inside the bytes, or a ddpm::Error; never a crash or a hang (scripts/fuzz.sh goes further).
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

TEST(EmojiGroups, TheDataCommandWritesGroupsOrSaysWhatIsMissing) {
  test::TempDir dir;
  write_bytes(dir / "test.ttf", test_font());
  test::write_file(dir / "emoji-test.txt", kEmojiTest);
  const std::string flags = "data emoji --by-group --font '" + dir / "test.ttf" + "' --out '" +
                            dir / "out" + "' --emoji-test ";
  const auto ok = test::run_ddpm(flags + "'" + dir / "emoji-test.txt" + "'");
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("wrote 6 emoji images (128x128 RGB PNG) in 4 group folders"),
            std::string::npos)
      << ok.out;
  EXPECT_NE(ok.out.find("People & Body 3"), std::string::npos) << ok.out;
  test::expect_one_line_error(test::run_ddpm(flags + "'" + dir / "none.txt" + "'"),
                              "apt-get install unicode-data", "a missing emoji-test.txt");
  const std::string subgroup_flags = "data emoji --by-subgroup --font '" + dir / "test.ttf" +
                                     "' --out '" + dir / "sub" + "' --emoji-test '" +
                                     dir / "emoji-test.txt" + "'";
  const auto sub = test::run_ddpm(subgroup_flags);
  ASSERT_EQ(sub.exit_code, 0) << sub.err;
  EXPECT_NE(sub.out.find("in 5 subgroup folders"), std::string::npos) << sub.out;
  EXPECT_NE(sub.out.find("People & Body person-hair 1"), std::string::npos) << sub.out;
  test::expect_one_line_error(test::run_ddpm(subgroup_flags + " --by-group"),
                              "--by-group and --by-subgroup exclude each other", "both levels");
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
