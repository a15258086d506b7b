#include "ddpm/data/builtin/emoji.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "ddpm/base/bytes.h"
#include "ddpm/base/error.h"
#include "ddpm/base/file_input.h"
#include "ddpm/data/builtin/emoji_groups.h"
#include "ddpm/data/builtin/font_tables.h"
#include "ddpm/data/image_io.h"

namespace ddpm {

std::vector<std::pair<size_t, size_t>> find_embedded_pngs(const std::vector<uint8_t>& b) {
  static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  std::vector<std::pair<size_t, size_t>> found;
  size_t pos = 0;
  while (pos + 8 <= b.size()) {
    const uint8_t* hit =
        static_cast<const uint8_t*>(std::memchr(b.data() + pos, signature[0], b.size() - pos));
    if (!hit) break;
    const size_t start = static_cast<size_t>(hit - b.data());
    if (start + 8 > b.size() || std::memcmp(hit, signature, 8) != 0) {
      pos = start + 1;
      continue;
    }
    // Walk the chunks: 4-byte length, 4-byte type, data, 4-byte CRC.
    size_t p = start + 8;
    bool complete = false;
    while (p + 12 <= b.size()) {
      const uint32_t len = read_be32(&b[p]);
      if (len > b.size() - p - 12) break;
      const bool iend = std::memcmp(&b[p + 4], "IEND", 4) == 0;
      p += 12 + len;
      if (iend) {
        complete = true;
        break;
      }
    }
    if (complete) {
      found.emplace_back(start, p);
      pos = p;
    } else {
      pos = start + 1;
    }
  }
  return found;
}

namespace {

std::vector<uint8_t> read_font(const std::string& font_path) {
  try {
    return read_file_bytes(font_path, "font file");
  } catch (const Error& e) {
    throw Error(std::string(e.what()) +
                "; the built-in emoji font comes with "
                "'apt-get install fonts-noto-color-emoji'");
  }
}

void create_folder(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error(dir + ": cannot create the output folder (" + ec.message() + ")");
}

// Decodes one embedded PNG, centre-crops 128×128 and writes it as RGB on white to
// <dir>/emoji_NNNN.png. False (nothing written) for a PNG that is no 128-pixel artwork.
bool write_glyph(const std::vector<uint8_t>& bytes, size_t begin, size_t end,
                 const std::filesystem::path& dir, int64_t number) {
  Image glyph;
  try {
    glyph = decode_image_memory(bytes.data() + begin, end - begin, "glyph");
  } catch (const Error&) {
    return false;  // not an artwork PNG we can read
  }
  if (glyph.width < 128 || glyph.height < 128) return false;
  Image rgb = convert_channels(center_crop(glyph, 128, 128), 3);
  char name[32];
  std::snprintf(name, sizeof(name), "emoji_%04lld.png", static_cast<long long>(number));
  write_png((dir / name).string(), rgb);
  return true;
}

}  // namespace

int64_t extract_emoji(const std::string& font_path, const std::string& out_dir, int64_t limit) {
  const std::vector<uint8_t> bytes = read_font(font_path);
  auto pngs = find_embedded_pngs(bytes);
  if (pngs.empty()) throw Error(font_path + ": no embedded PNG glyphs found");
  create_folder(out_dir);
  int64_t written = 0;
  for (const auto& [begin, end] : pngs) {
    if (limit > 0 && written >= limit) break;
    if (write_glyph(bytes, begin, end, out_dir, written)) ++written;
  }
  return written;
}

EmojiGroupCounts extract_emoji_groups(const std::string& font_path,
                                      const std::string& emoji_test_path,
                                      const std::string& out_dir, int64_t limit, EmojiLevel level) {
  const EmojiGroups groups = read_emoji_test(emoji_test_path, level);
  const std::vector<uint8_t> bytes = read_font(font_path);
  const FontTables font = parse_font_tables(bytes, font_path);
  // Glyphs in the order their PNGs sit in the font, as extract_emoji numbers them.
  std::vector<std::pair<std::pair<size_t, size_t>, uint16_t>> glyphs;
  for (const auto& [glyph, range] : font.pngs) glyphs.emplace_back(range, glyph);
  std::sort(glyphs.begin(), glyphs.end());
  const std::map<uint16_t, int> group_of = glyph_groups(font, groups);
  std::vector<int64_t> written(groups.names.size(), 0);
  int64_t total = 0;
  for (const auto& [range, glyph] : glyphs) {
    if (limit > 0 && total >= limit) break;
    const int group = group_of.at(glyph);
    if (group < 0) continue;
    const auto dir = std::filesystem::path(out_dir) /
                     group_folder_name(group, groups.names.size(), groups.names[group]);
    create_folder(dir.string());
    if (write_glyph(bytes, range.first, range.second, dir, total)) {
      ++written[group];
      ++total;
    }
  }
  if (total == 0)
    throw Error(font_path + ": no glyph belongs to an emoji group of " + emoji_test_path);
  return {groups.names, written};
}

}  // namespace ddpm
