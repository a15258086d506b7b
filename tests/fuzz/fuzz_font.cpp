// libFuzzer target: the emoji font reader (table directory, cmap, GSUB ligatures, CBLC/CBDT) and
// the group of every glyph it finds. Any input must end in a result or a ddpm::Error.
#include <cstdint>
#include <vector>

#include "ddpm/base/error.h"
#include "ddpm/data/builtin/emoji_groups.h"
#include "ddpm/data/builtin/font_tables.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ddpm::EmojiGroups groups = ddpm::parse_emoji_test(
      "# group: A\n1F468 ; x\n1F468 200D 1F9B0 ; x\n# group: B\n27A1 FE0F ; x\n", "fuzz.txt");
  try {
    const auto font = ddpm::parse_font_tables(std::vector<uint8_t>(data, data + size), "fuzz.ttf");
    for (const auto& [glyph, range] : font.pngs) ddpm::glyph_group(font, groups, glyph);
  } catch (const ddpm::Error&) {
  }
  return 0;
}
