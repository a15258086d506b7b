// The decoded-image cache of a data folder (<folder>/.ddpm-cache-<size>-<channels>.bin): a header,
// the class names, the labels and the uint8 pixels. Everything in it is checked before use.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "ddpm/data/dataset.h"

namespace ddpm {

// What the cache must hold to be used: the listing key, the image geometry, the class names found
// in the folder and how many image files it has.
struct CacheExpectation {
  uint64_t key = 0;
  int64_t channels = 0;
  int64_t size = 0;
  std::vector<std::string> class_names;
  int64_t files = 0;
};

// Parses cache bytes. Returns nothing, with the reason in `why`, when anything disagrees: magic,
// key, dimensions, counts, class names, the exact length, or a label out of range.
std::optional<Dataset> parse_data_cache(const uint8_t* bytes, size_t size,
                                        const CacheExpectation& expect, std::string& why);
// Reads the cache file (memory-mapped); nothing when it is absent or does not match (a warning
// naming the file and the reason goes to `log` then, and the caller decodes the images again).
std::optional<Dataset> read_data_cache(const std::string& path, const CacheExpectation& expect,
                                       std::ostream& log);
std::string serialize_data_cache(const Dataset& data, uint64_t key);

}  // namespace ddpm
