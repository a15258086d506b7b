#include "ddpm/data/builtin/font_tables.h"

#include "ddpm/base/bytes.h"
#include "ddpm/base/error.h"

namespace ddpm {
namespace {

// Big-endian reads that never leave the file: any offset outside it is an error naming the table.
class FontBytes {
 public:
  FontBytes(const std::vector<uint8_t>& bytes, const std::string& name) : b_(bytes), name_(name) {}
  void in_table(const std::string& tag) { table_ = tag + " table"; }
  void need(size_t at, size_t n) const {
    if (at > b_.size() || n > b_.size() - at) fail("points outside the file");
  }
  uint8_t u8(size_t at) const {
    need(at, 1);
    return b_[at];
  }
  uint16_t u16(size_t at) const {
    need(at, 2);
    return read_be16(b_.data() + at);
  }
  uint32_t u32(size_t at) const {
    need(at, 4);
    return read_be32(b_.data() + at);
  }
  [[noreturn]] void fail(const std::string& why) const {
    throw Error(name_ + ": " + table_ + ": " + why + " (truncated or corrupt font)");
  }

 private:
  const std::vector<uint8_t>& b_;
  std::string name_;
  std::string table_ = "table directory";
};

// tag -> offset of the table in the file.
std::map<std::string, size_t> table_directory(const FontBytes& f) {
  std::map<std::string, size_t> tables;
  const uint16_t count = f.u16(4);
  for (size_t i = 0; i < count; ++i) {
    const size_t record = 12 + 16 * i;
    f.need(record, 16);
    std::string tag;
    for (size_t k = 0; k < 4; ++k) tag += static_cast<char>(f.u8(record + k));
    const size_t offset = f.u32(record + 8), length = f.u32(record + 12);
    f.need(offset, length);
    tables[tag] = offset;
  }
  return tables;
}

size_t require_table(const std::map<std::string, size_t>& tables, const std::string& tag,
                     FontBytes& f) {
  f.in_table(tag);
  const auto it = tables.find(tag);
  if (it == tables.end()) f.fail("missing (not a colour-bitmap emoji font?)");
  return it->second;
}

void read_cmap_format12(const FontBytes& f, size_t s, FontTables& out) {
  const uint32_t groups = f.u32(s + 12);
  f.need(s + 16, size_t{groups} * 12);
  for (size_t g = 0; g < groups; ++g) {
    const size_t at = s + 16 + 12 * g;
    const uint32_t first = f.u32(at), last = f.u32(at + 4), glyph = f.u32(at + 8);
    if (last < first || last > 0x10FFFF || glyph + (last - first) > 0xFFFF)
      f.fail("a format-12 group out of range");
    for (uint32_t cp = first; cp <= last; ++cp)
      out.cmap[cp] = static_cast<uint16_t>(glyph + (cp - first));
  }
}

void read_cmap(const FontBytes& f, size_t cmap, FontTables& out) {
  const uint16_t count = f.u16(cmap + 2);
  for (size_t i = 0; i < count; ++i) {
    const size_t s = cmap + f.u32(cmap + 4 + 8 * i + 4);
    if (f.u16(s) == 12) return read_cmap_format12(f, s, out);
  }
  f.fail("no format-12 (full Unicode) subtable");
}

// Coverage index -> glyph.
std::vector<uint16_t> read_coverage(const FontBytes& f, size_t at) {
  std::vector<uint16_t> glyphs;
  const uint16_t format = f.u16(at), count = f.u16(at + 2);
  if (format == 1) {
    for (size_t i = 0; i < count; ++i) glyphs.push_back(f.u16(at + 4 + 2 * i));
    return glyphs;
  }
  if (format != 2) f.fail("coverage format " + std::to_string(format) + " is not 1 or 2");
  for (size_t r = 0; r < count; ++r) {
    const size_t range = at + 4 + 6 * r;
    const uint16_t first = f.u16(range), last = f.u16(range + 2), index = f.u16(range + 4);
    if (last < first) f.fail("a coverage range ends before it starts");
    if (glyphs.size() < size_t{index} + (last - first) + 1)
      glyphs.resize(index + (last - first) + 1);
    for (uint32_t g = first; g <= last; ++g) glyphs[index + (g - first)] = static_cast<uint16_t>(g);
  }
  return glyphs;
}

void read_ligature_set(const FontBytes& f, size_t set, uint16_t first, FontTables& out) {
  const uint16_t count = f.u16(set);
  for (size_t j = 0; j < count; ++j) {
    const size_t lig = set + f.u16(set + 2 + 2 * j);
    const uint16_t glyph = f.u16(lig), components = f.u16(lig + 2);
    if (components == 0) f.fail("a ligature with no components");
    std::vector<uint16_t> sequence{first};
    for (size_t m = 1; m < components; ++m) sequence.push_back(f.u16(lig + 2 + 2 * m));
    out.ligatures[glyph].push_back(std::move(sequence));
  }
}

void read_ligature_subtable(const FontBytes& f, size_t s, FontTables& out) {
  if (f.u16(s) != 1) f.fail("ligature substitution format " + std::to_string(f.u16(s)));
  const auto coverage = read_coverage(f, s + f.u16(s + 2));
  const uint16_t sets = f.u16(s + 4);
  if (sets > coverage.size()) f.fail("more ligature sets than covered glyphs");
  for (size_t k = 0; k < sets; ++k)
    read_ligature_set(f, s + f.u16(s + 6 + 2 * k), coverage[k], out);
}

void read_gsub(const FontBytes& f, size_t gsub, FontTables& out) {
  const size_t list = gsub + f.u16(gsub + 8);
  const uint16_t lookups = f.u16(list);
  for (size_t i = 0; i < lookups; ++i) {
    const size_t lookup = list + f.u16(list + 2 + 2 * i);
    const uint16_t type = f.u16(lookup), subtables = f.u16(lookup + 4);
    for (size_t k = 0; k < subtables; ++k) {
      size_t s = lookup + f.u16(lookup + 6 + 2 * k);
      uint16_t kind = type;
      if (kind == 7) {  // extension: the real type and a 32-bit offset
        kind = f.u16(s + 2);
        s += f.u32(s + 4);
      }
      if (kind == 4) read_ligature_subtable(f, s, out);
    }
  }
}

// One glyph's CBDT record [begin, end): the PNG inside it, after the metrics and the length.
void read_bitmap(const FontBytes& f, uint16_t image_format, size_t begin, size_t end,
                 uint16_t glyph, FontTables& out) {
  size_t header = 0;
  if (image_format == 17)
    header = 5;
  else if (image_format == 18)
    header = 8;
  else if (image_format != 19)
    f.fail("image format " + std::to_string(image_format));
  const size_t length = f.u32(begin + header), png = begin + header + 4;
  if (png > end || length > end - png) f.fail("a glyph's PNG runs past its record");
  out.pngs.emplace(glyph, std::make_pair(png, png + length));
}

void read_index_subtable(const FontBytes& f, size_t at, uint16_t first, uint16_t last, size_t cbdt,
                         FontTables& out) {
  const uint16_t index_format = f.u16(at), image_format = f.u16(at + 2);
  const size_t data = cbdt + f.u32(at + 4);
  if (index_format != 1 && index_format != 3)
    f.fail("index subtable format " + std::to_string(index_format) + " is not 1 or 3");
  auto offset = [&](size_t i) -> size_t {
    return index_format == 1 ? f.u32(at + 8 + 4 * i) : f.u16(at + 8 + 2 * i);
  };
  for (uint32_t g = first; g <= last; ++g) {
    const size_t begin = data + offset(g - first), end = data + offset(g - first + 1);
    if (end < begin) f.fail("glyph offsets go backwards");
    if (end > begin) read_bitmap(f, image_format, begin, end, static_cast<uint16_t>(g), out);
  }
}

void read_cblc(const FontBytes& f, size_t cblc, size_t cbdt, FontTables& out) {
  const uint32_t sizes = f.u32(cblc + 4);
  f.need(cblc + 8, size_t{sizes} * 48);
  for (size_t s = 0; s < sizes; ++s) {
    const size_t record = cblc + 8 + 48 * s;
    const size_t array = cblc + f.u32(record);
    const uint32_t subtables = f.u32(record + 8);
    f.need(array, size_t{subtables} * 8);
    for (size_t k = 0; k < subtables; ++k) {
      const uint16_t first = f.u16(array + 8 * k), last = f.u16(array + 8 * k + 2);
      if (last < first) f.fail("an index subtable ends before it starts");
      read_index_subtable(f, array + f.u32(array + 8 * k + 4), first, last, cbdt, out);
    }
  }
}

}  // namespace

FontTables parse_font_tables(const std::vector<uint8_t>& bytes, const std::string& name) {
  FontBytes f(bytes, name);
  const auto tables = table_directory(f);
  FontTables out;
  read_cmap(f, require_table(tables, "cmap", f), out);
  read_gsub(f, require_table(tables, "GSUB", f), out);
  const size_t cbdt = require_table(tables, "CBDT", f);
  read_cblc(f, require_table(tables, "CBLC", f), cbdt, out);
  return out;
}

}  // namespace ddpm
