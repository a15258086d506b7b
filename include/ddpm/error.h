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

}  // namespace ddpm
