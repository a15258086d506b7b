// Unicode's emoji groups (Smileys & Emotion, People & Body, ..., Flags), read from emoji-test.txt
// in Debian's unicode-data, and the group of each glyph of an emoji font: the class labels of the
// class-conditional emoji data set.
#pragma once
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "ddpm/data/builtin/font_tables.h"

namespace ddpm {

inline constexpr const char* kEmojiTestPath = "/usr/share/unicode/emoji/emoji-test.txt";

// What a class is: a Unicode emoji group (10 in Unicode 15: Smileys & Emotion, ..., Flags) or a
// subgroup (about 100: face-smiling, ..., country-flag), named "Group subgroup".
enum class EmojiLevel { group, subgroup };

struct EmojiGroups {
  std::vector<std::string> names;                 // in the file's order
  std::map<std::vector<uint32_t>, int> group_of;  // code points without U+FE0F -> group index
  std::set<uint32_t> zwj_heads;                   // code points that begin a ZWJ sequence
};

// Parses emoji-test.txt text into classes at `level`; `name` stands for the file in errors (a bad
// code point, a sequence before the first "# group:" or "# subgroup:" line, no classes at all).
EmojiGroups parse_emoji_test(const std::string& text, const std::string& name,
                             EmojiLevel level = EmojiLevel::group);
// Reads and parses the file; a missing one names the apt package that has it.
EmojiGroups read_emoji_test(const std::string& path, EmojiLevel level = EmojiLevel::group);

// Every code point sequence that `glyph` draws: its cmap code point, or its ligature components
// expanded (a font may list a ligature in both orders).
std::vector<std::vector<uint32_t>> glyph_sequences(const FontTables& font, uint16_t glyph);

// The group of `glyph`, or -1 when it belongs to none (a lone regional indicator, a keycap base, a
// private-use glyph). The candidate sequence with the longest leading part that emoji-test.txt
// knows wins, so that sequences newer than the file still find their group; a tie goes to the one
// that starts with a code point that begins ZWJ sequences (the base, not the attribute).
int glyph_group(const FontTables& font, const EmojiGroups& groups, uint16_t glyph);
// glyph_group of every glyph that has a picture (font.pngs), with one reverse cmap for them all.
std::map<uint16_t, int> glyph_groups(const FontTables& font, const EmojiGroups& groups);

// "Smileys & Emotion" -> "0_Smileys-Emotion": class folders that sort in group order.
std::string group_folder_name(size_t index, size_t count, const std::string& group);

}  // namespace ddpm
