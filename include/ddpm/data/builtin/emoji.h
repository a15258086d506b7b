// The built-in data set: the colour emoji artwork embedded as PNGs in Debian's Noto Color Emoji
// font.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ddpm/data/builtin/emoji_groups.h"

namespace ddpm {

inline constexpr const char* kEmojiFontPath = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf";

// Byte ranges [begin, end) of every complete PNG (signature through IEND chunk) inside `bytes`.
std::vector<std::pair<size_t, size_t>> find_embedded_pngs(const std::vector<uint8_t>& bytes);

// Extracts every glyph, centre-crops 128×128, composites onto white and writes RGB PNGs into
// `out_dir` (emoji_0000.png, …). Returns the number written. `limit` > 0 stops early.
int64_t extract_emoji(const std::string& font_path, const std::string& out_dir, int64_t limit = 0);

// The same artwork with class labels: one subfolder per Unicode emoji group, in emoji-test.txt's
// order (<out_dir>/0_Smileys-Emotion, 1_People-Body, ..., 9_Flags), or per subgroup
// (000_Smileys-Emotion-face-smiling, ..., 100_Flags-subdivision-flag), for a class-conditional
// model. Glyphs that belong to no group are left out. Returns the class names and the number
// written to each.
struct EmojiGroupCounts {
  std::vector<std::string> names;
  std::vector<int64_t> written;
};
EmojiGroupCounts extract_emoji_groups(const std::string& font_path,
                                      const std::string& emoji_test_path,
                                      const std::string& out_dir, int64_t limit = 0,
                                      EmojiLevel level = EmojiLevel::group);

}  // namespace ddpm
