// libFuzzer target: the data cache reader (parse_data_cache) on arbitrary bytes, against a fixed
// expectation. Property: it returns nothing, or a data set whose tensors have exactly the expected
// shapes and labels in range; it never reads out of bounds or allocates from an unchecked count.
#include <cstdint>
#include <cstdlib>

#include "ddpm/data/data_cache.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ddpm::CacheExpectation expect;
  expect.key = 0x0123456789abcdefull;
  expect.channels = 1;
  expect.size = 8;
  expect.class_names = {"a", "b"};
  expect.files = 16;
  std::string why;
  const auto result = ddpm::parse_data_cache(data, size, expect, why);
  if (!result) return 0;
  const auto& d = *result;
  const int64_t n = d.images.size(0);
  if (n < 1 || n > expect.files || d.images.size(1) != 1 || d.images.size(2) != 8 ||
      d.images.size(3) != 8 || d.labels.size(0) != n || d.class_names != expect.class_names ||
      d.labels.min().item<int64_t>() < 0 || d.labels.max().item<int64_t>() > 1) {
    std::abort();
  }
  return 0;
}
