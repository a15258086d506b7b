// The one exception type the tool throws for user-facing problems; main.cpp prints its message as
// one line.
#pragma once
#include <stdexcept>
#include <string>

namespace ddpm {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// The first line of a message: LibTorch's and Gloo's carry a C++ backtrace after it, and users get
// one line.
inline std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

}  // namespace ddpm
