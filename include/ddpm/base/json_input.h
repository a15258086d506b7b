// JSON read from outside (config files, --set values, checkpoint metadata), checked before use:
// bounded size and nesting, no duplicate keys, and errors that say where.
#pragma once
#include <cstddef>
#include <nlohmann/json_fwd.hpp>
#include <string>

namespace ddpm {

// Deeper nesting is an error: the JSON library's printer and destructor recurse per level.
inline constexpr int kMaxJsonDepth = 64;
// A config is a few kilobytes; anything above this is not one (e.g. /dev/zero).
inline constexpr size_t kMaxConfigBytes = 1 << 20;

// Parses `text`. Throws ddpm::Error "ORIGIN:LINE:COLUMN: invalid JSON: ..." for syntax errors,
// numbers beyond a double and nesting deeper than kMaxJsonDepth, and "ORIGIN: duplicate key a.b"
// when an object repeats a key.
nlohmann::json parse_json_input(const std::string& text, const std::string& origin);

}  // namespace ddpm
