// Where a run is in its pass over the data; saved in checkpoints for exact resume.
#pragma once
#include <cstdint>

namespace ddpm {

struct DataPosition {
  int64_t epoch = 0;
  int64_t index = 0;  // next position inside the epoch's permutation
  int64_t seed = 0;
};

}  // namespace ddpm
