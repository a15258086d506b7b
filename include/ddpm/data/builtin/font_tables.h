// The parts of an OpenType colour-bitmap font (Noto Color Emoji) that tie each embedded PNG to the
// characters it draws: cmap (format 12: code point -> glyph), GSUB ligatures (lookup type 4, also
// inside type-7 extensions: glyph sequence -> glyph) and CBLC/CBDT (glyph -> PNG bytes).
// Specification: the OpenType spec, chapters "cmap", "GSUB", "CBLC" and "CBDT".
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace ddpm {

struct FontTables {
  std::map<uint32_t, uint16_t> cmap;  // code point -> glyph
  // ligature glyph -> every component sequence that forms it (a font may list a sequence in both
  // orders, e.g. for right-to-left runs)
  std::map<uint16_t, std::vector<std::vector<uint16_t>>> ligatures;
  std::map<uint16_t, std::pair<size_t, size_t>>
      pngs;  // glyph -> [begin, end) of its PNG in the font
};

// Parses `bytes`; `name` stands for the file in errors. A table that points outside the file or a
// format this reader does not know is an error naming the table ("truncated or corrupt").
FontTables parse_font_tables(const std::vector<uint8_t>& bytes, const std::string& name);

}  // namespace ddpm
