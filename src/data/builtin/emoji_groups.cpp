#include "ddpm/data/builtin/emoji_groups.h"

#include <cctype>
#include <sstream>

#include "ddpm/base/error.h"
#include "ddpm/base/file_input.h"

namespace ddpm {
namespace {

constexpr uint32_t kVariationSelect16 = 0xFE0F;
constexpr uint32_t kZeroWidthJoiner = 0x200D;

std::vector<uint32_t> parse_code_points(const std::string& field, const std::string& where) {
  std::vector<uint32_t> points;
  std::istringstream in(field);
  std::string token;
  while (in >> token) {
    size_t used = 0;
    unsigned long value = 0;
    try {
      value = std::stoul(token, &used, 16);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != token.size() || value > 0x10FFFF)
      throw Error(where + ": '" + token + "' is not a code point (hex, at most 10FFFF)");
    if (value != kVariationSelect16) points.push_back(static_cast<uint32_t>(value));
  }
  if (points.empty()) throw Error(where + ": a sequence with no code points");
  return points;
}

void add_sequence(EmojiGroups& groups, const std::vector<uint32_t>& points) {
  groups.group_of.emplace(points, static_cast<int>(groups.names.size()) - 1);
  if (points.size() > 2 && points[1] == kZeroWidthJoiner) groups.zwj_heads.insert(points[0]);
  if (points.size() > 3 && points[2] == kZeroWidthJoiner) groups.zwj_heads.insert(points[0]);
}

// How many leading code points of `points` form a sequence the file knows (0: none).
size_t known_prefix(const EmojiGroups& groups, const std::vector<uint32_t>& points) {
  for (size_t n = points.size(); n > 0; --n) {
    const std::vector<uint32_t> head(points.begin(), points.begin() + static_cast<long>(n));
    if (groups.group_of.count(head)) return n;
  }
  return 0;
}

// Expands a glyph into the code point sequences it draws, within fixed bounds: a font's ligature
// tables come from outside, and a corrupt one may nest or repeat without end.
class Expander {
 public:
  explicit Expander(const FontTables& font) : font_(font) {
    for (const auto& [point, glyph] : font.cmap) code_point_.emplace(glyph, point);
  }
  std::vector<std::vector<uint32_t>> expand(uint16_t glyph) {
    work_ = 0;
    std::vector<std::vector<uint32_t>> out;
    expand(glyph, 0, out);
    return out;
  }

 private:
  static constexpr size_t kMaxDepth = 8;        // ligatures of ligatures
  static constexpr size_t kMaxCandidates = 64;  // sequences per glyph
  static constexpr size_t kMaxLength = 32;      // code points per sequence (real ones: at most 10)
  static constexpr size_t kMaxWork = 100000;    // glyph visits per expansion

  void expand(uint16_t glyph, size_t depth, std::vector<std::vector<uint32_t>>& out) {
    if (++work_ > kMaxWork) return;
    const auto direct = code_point_.find(glyph);
    if (direct != code_point_.end()) {
      out.push_back({direct->second});
      return;
    }
    const auto ligature = font_.ligatures.find(glyph);
    if (ligature == font_.ligatures.end() || depth >= kMaxDepth) return;
    for (const auto& components : ligature->second) {
      if (components.size() <= kMaxLength) expand_components(components, depth, out);
    }
  }

  // Appends every concatenation of the components' expansions to `out`.
  void expand_components(const std::vector<uint16_t>& components, size_t depth,
                         std::vector<std::vector<uint32_t>>& out) {
    std::vector<std::vector<uint32_t>> partial{{}};
    for (uint16_t component : components) {
      std::vector<std::vector<uint32_t>> options, next;
      expand(component, depth + 1, options);
      for (const auto& head : partial) {
        for (const auto& tail : options) {
          if (next.size() >= kMaxCandidates || head.size() + tail.size() > kMaxLength) continue;
          next.push_back(head);
          next.back().insert(next.back().end(), tail.begin(), tail.end());
        }
      }
      partial.swap(next);
    }
    for (auto& sequence : partial) {
      if (out.size() < kMaxCandidates && !sequence.empty()) out.push_back(std::move(sequence));
    }
  }

  const FontTables& font_;
  std::map<uint16_t, uint32_t> code_point_;  // the lowest code point that maps to each glyph
  size_t work_ = 0;
};

// The expansions of `glyph` with U+FE0F dropped, as emoji-test.txt's keys are.
std::vector<std::vector<uint32_t>> sequences_without_selectors(Expander& expander, uint16_t glyph) {
  std::vector<std::vector<uint32_t>> out = expander.expand(glyph);
  for (auto& sequence : out) {
    std::vector<uint32_t> kept;
    for (uint32_t p : sequence)
      if (p != kVariationSelect16) kept.push_back(p);
    sequence.swap(kept);
  }
  return out;
}

// The group of the candidate with the longest known leading part; a tie goes to a ZWJ base.
int best_group(const EmojiGroups& groups, const std::vector<std::vector<uint32_t>>& candidates) {
  int best = -1;
  size_t best_length = 0;
  bool best_head = false;
  for (const auto& sequence : candidates) {
    const size_t length = known_prefix(groups, sequence);
    if (length == 0) continue;
    const bool head = groups.zwj_heads.count(sequence[0]) > 0;
    if (length > best_length || (length == best_length && head && !best_head)) {
      const std::vector<uint32_t> prefix(sequence.begin(),
                                         sequence.begin() + static_cast<long>(length));
      best = groups.group_of.at(prefix);
      best_length = length;
      best_head = head;
    }
  }
  return best;
}

// The text after a "# group:" or "# subgroup:" header that is `length` characters long.
std::string header_value(const std::string& line, size_t length) {
  const size_t start = line.find_first_not_of(' ', length);
  return start == std::string::npos ? "" : line.substr(start);
}

}  // namespace

EmojiGroups parse_emoji_test(const std::string& text, const std::string& name, EmojiLevel level) {
  const std::string group_header = "# group:";
  const std::string header = level == EmojiLevel::group ? group_header : "# subgroup:";
  EmojiGroups groups;
  std::string group;  // the group of the subgroups that follow
  std::istringstream in(text);
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    const std::string where = name + ":" + std::to_string(number);
    if (line.rfind(group_header, 0) == 0) group = header_value(line, group_header.size());
    if (line.rfind(header, 0) == 0) {
      if (level == EmojiLevel::subgroup && group.empty())
        throw Error(where + ": a '# subgroup:' line before the first '# group:' line");
      const std::string value = header_value(line, header.size());
      groups.names.push_back(level == EmojiLevel::group ? value : group + " " + value);
      continue;
    }
    const size_t semicolon = line.find(';');
    if (line.empty() || line[0] == '#' || semicolon == std::string::npos) continue;
    if (groups.names.empty())
      throw Error(where + ": a sequence before the first '" + header + "' line");
    std::vector<uint32_t> points = parse_code_points(line.substr(0, semicolon), where);
    add_sequence(groups, points);
  }
  if (groups.group_of.empty()) {
    throw Error(name + ": no '" + header +
                "' lines with sequences (expected Unicode's emoji-test.txt)");
  }
  return groups;
}

EmojiGroups read_emoji_test(const std::string& path, EmojiLevel level) {
  try {
    return parse_emoji_test(read_small_file(path, 64u << 20, "emoji test file"), path, level);
  } catch (const Error& e) {
    throw Error(std::string(e.what()) +
                "; the emoji groups come with 'apt-get install unicode-data'");
  }
}

std::vector<std::vector<uint32_t>> glyph_sequences(const FontTables& font, uint16_t glyph) {
  Expander expander(font);
  return sequences_without_selectors(expander, glyph);
}

int glyph_group(const FontTables& font, const EmojiGroups& groups, uint16_t glyph) {
  Expander expander(font);
  return best_group(groups, sequences_without_selectors(expander, glyph));
}

std::map<uint16_t, int> glyph_groups(const FontTables& font, const EmojiGroups& groups) {
  Expander expander(font);
  std::map<uint16_t, int> out;
  for (const auto& entry : font.pngs)
    out[entry.first] = best_group(groups, sequences_without_selectors(expander, entry.first));
  return out;
}

std::string group_folder_name(size_t index, size_t count, const std::string& group) {
  std::string number = std::to_string(index);
  const size_t width = std::to_string(count > 0 ? count - 1 : 0).size();
  if (number.size() < width) number.insert(0, width - number.size(), '0');
  std::string name;
  for (char c : group) {
    const bool keep = std::isalnum(static_cast<unsigned char>(c)) != 0;
    if (keep)
      name += c;
    else if (!name.empty() && name.back() != '-')
      name += '-';
  }
  while (!name.empty() && name.back() == '-') name.pop_back();
  return number + "_" + (name.empty() ? "group" : name);
}

}  // namespace ddpm
