// A data-parallel worker's disjoint slice of every global batch.
#pragma once
#include <cstdint>

namespace ddpm {

// Rows [begin(n), begin(n) + size(n)) of a global batch of n rows (n divides by world).
struct Shard {
  int64_t rank = 0;
  int64_t world = 1;
  int64_t size(int64_t n) const { return n / world; }
  int64_t begin(int64_t n) const { return size(n) * rank; }
};

}  // namespace ddpm
