#include "ddpm/base/json_input.h"

#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "ddpm/base/error.h"

namespace ddpm {
namespace {

using nlohmann::json;

// Line and column (1-based) of a byte offset.
std::string position(const std::string& text, size_t offset) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return ":" + std::to_string(line) + ":" + std::to_string(column);
}

// Scans brackets outside strings, so that over-deep input is refused before it is parsed.
void check_depth(const std::string& text, const std::string& origin) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) {
        throw Error(origin + position(text, i) + ": invalid JSON: nested deeper than " +
                    std::to_string(kMaxJsonDepth) + " levels");
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
}

// Tracks the keys of every open object during parsing and rejects a repeated one.
class DuplicateKeys {
 public:
  explicit DuplicateKeys(std::string origin) : origin_(std::move(origin)) {}
  bool operator()(int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        frames_.push_back({true, {}, ""});
        break;
      case json::parse_event_t::array_start:
        frames_.push_back({false, {}, ""});
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        if (!frames_.empty()) frames_.pop_back();
        break;
      case json::parse_event_t::key:
        key(parsed.get<std::string>());
        break;
      case json::parse_event_t::value:
        break;
    }
    return true;
  }

 private:
  struct Frame {
    bool object;
    std::set<std::string> keys;
    std::string current;
  };
  void key(const std::string& name) {
    Frame& top = frames_.back();
    top.current = name;
    if (top.keys.insert(name).second) return;
    std::string path;
    for (const auto& f : frames_) {
      if (f.object) path += (path.empty() ? "" : ".") + f.current;
    }
    throw Error(origin_ + ": duplicate key " + path + " (it is given twice; keep one)");
  }
  std::string origin_;
  std::vector<Frame> frames_;
};

}  // namespace

json parse_json_input(const std::string& text, const std::string& origin) {
  check_depth(text, origin);
  try {
    return json::parse(text, DuplicateKeys(origin));
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    auto colon = what.find(": ", what.find("parse error"));
    std::string detail = colon == std::string::npos ? what : what.substr(colon + 2);
    throw Error(origin + position(text, e.byte == 0 ? 0 : e.byte - 1) +
                ": invalid JSON: " + detail);
  } catch (const json::out_of_range& e) {
    // A number beyond the range of a double. The parser gives no position: it is where the quoted
    // token first appears.
    std::string what = e.what();
    auto open = what.find('\'');
    auto close = what.rfind('\'');
    std::string where;
    if (open != std::string::npos && close > open) {
      const auto at = text.find(what.substr(open + 1, close - open - 1));
      if (at != std::string::npos) where = position(text, at);
    }
    const auto detail = what.find("] ");
    throw Error(origin + where + ": invalid JSON: " +
                (detail == std::string::npos ? what : what.substr(detail + 2)) +
                " (too large for a number)");
  }
}

}  // namespace ddpm
