// cxxopts, configured for ddpm. Every file that parses options includes cxxopts through here, so
// that all of them agree on the settings below.
#pragma once

// A repeatable option (--set) takes one value per occurrence and never splits it at commas: a value
// may hold a JSON array (--set model.channel_mults=[1,2,2]). NUL cannot occur inside an argument.
#define CXXOPTS_VECTOR_DELIMITER '\0'
#include <cxxopts.hpp>
#include <sstream>
#include <string>

#include "ddpm/base/error.h"

namespace ddpm {

// The value of flag --NAME, which must lie in [minimum, maximum]; otherwise an error
// "--NAME VALUE: must be in [MIN, MAX]" followed by `note` (e.g. " (0 = all timesteps)").
template <class T>
T flag_in_range(const cxxopts::ParseResult& args, const std::string& name, T minimum, T maximum,
                const std::string& note = "") {
  const T value = args[name].as<T>();
  if (value < minimum || value > maximum) {
    std::ostringstream os;
    os << "--" << name << " " << value << ": must be in [" << minimum << ", " << maximum << "]"
       << note;
    throw Error(os.str());
  }
  return value;
}

}  // namespace ddpm
