// cxxopts, configured for ddpm. Every file that parses options includes cxxopts through here, so
// that all of them agree on the settings below.
#pragma once

// A repeatable option (--set) takes one value per occurrence and never splits it at commas: a value
// may hold a JSON array (--set model.channel_mults=[1,2,2]). NUL cannot occur inside an argument.
#define CXXOPTS_VECTOR_DELIMITER '\0'
#include <cxxopts.hpp>
