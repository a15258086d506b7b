#include "ddpm/base/choices.h"

#include "ddpm/base/error.h"

namespace ddpm {

void throw_unknown_choice(const std::string& what, const std::string& text,
                          const std::string& list) {
  throw Error(what + ": unknown value \"" + text + "\" (expected " + list + ")");
}

}  // namespace ddpm
