#include "ddpm/emoji.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "ddpm/error.h"
#include "ddpm/file_input.h"
#include "ddpm/image_io.h"

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
      const uint32_t len = (uint32_t{b[p]} << 24) | (uint32_t{b[p + 1]} << 16) |
                           (uint32_t{b[p + 2]} << 8) | b[p + 3];
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

int64_t extract_emoji(const std::string& font_path, const std::string& out_dir, int64_t limit) {
  std::vector<uint8_t> bytes;
  try {
    bytes = read_file_bytes(font_path, "font file");
  } catch (const Error& e) {
    throw Error(std::string(e.what()) +
                "; the built-in emoji font comes with "
                "'apt-get install fonts-noto-color-emoji'");
  }
  auto pngs = find_embedded_pngs(bytes);
  if (pngs.empty()) throw Error(font_path + ": no embedded PNG glyphs found");
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) throw Error(out_dir + ": cannot create the output folder (" + ec.message() + ")");
  int64_t written = 0;
  for (const auto& [begin, end] : pngs) {
    if (limit > 0 && written >= limit) break;
    Image glyph;
    try {
      glyph = decode_image_memory(bytes.data() + begin, end - begin, "glyph");
    } catch (const Error&) {
      continue;  // not an artwork PNG we can read
    }
    if (glyph.width < 128 || glyph.height < 128) continue;
    Image rgb = convert_channels(center_crop(glyph, 128, 128), 3);
    char name[32];
    std::snprintf(name, sizeof(name), "emoji_%04lld.png", static_cast<long long>(written));
    write_png((std::filesystem::path(out_dir) / name).string(), rgb);
    ++written;
  }
  return written;
}

}  // namespace ddpm
