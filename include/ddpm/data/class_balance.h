// Class-balanced epochs for class-conditional training: class k is drawn in proportion to
// n_k^(1 - b), from its natural frequency (b = 0) to equal shares (b = 1), as temperature-scaled
// sampling of imbalanced corpora does.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

namespace ddpm {

// How many of an epoch's `total` draws each class gets: counts[k]^(1 - balance), normalised to
// `total` and rounded by largest remainder (ties to the lower class), so the quotas sum to `total`.
// Classes with no images get 0.
std::vector<int64_t> class_quotas(const std::vector<int64_t>& counts, double balance,
                                  int64_t total);

// One epoch: for each class, `quotas[k]` of its `members[k]` (indices into the data set), taken
// from a fresh permutation and cycled when the quota exceeds the class, so every member appears
// floor or ceil(quota / size) times; then the whole list shuffled. A pure function of `rng`'s
// state.
std::vector<int64_t> balanced_epoch(const std::vector<std::vector<int64_t>>& members,
                                    const std::vector<int64_t>& quotas, std::mt19937_64& rng);

// Fisher–Yates with our own RNG draw (identical on every platform and standard library).
void shuffle_indices(std::vector<int64_t>& order, std::mt19937_64& rng);

}  // namespace ddpm
