#include "ddpm/data/class_balance.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

namespace ddpm {

std::vector<int64_t> class_quotas(const std::vector<int64_t>& counts, double balance,
                                  int64_t total) {
  std::vector<double> weight(counts.size(), 0.0);
  for (size_t k = 0; k < counts.size(); ++k) {
    if (counts[k] > 0) weight[k] = std::pow(static_cast<double>(counts[k]), 1.0 - balance);
  }
  const double sum = std::accumulate(weight.begin(), weight.end(), 0.0);
  std::vector<int64_t> quota(counts.size(), 0);
  if (sum <= 0 || total <= 0) return quota;
  std::vector<std::pair<double, size_t>> remainder;  // (-fraction, class): largest first
  int64_t given = 0;
  for (size_t k = 0; k < counts.size(); ++k) {
    const double exact = static_cast<double>(total) * weight[k] / sum;
    quota[k] = static_cast<int64_t>(std::floor(exact));
    given += quota[k];
    if (weight[k] > 0) remainder.emplace_back(-(exact - std::floor(exact)), k);
  }
  std::sort(remainder.begin(), remainder.end());
  for (size_t i = 0; given < total && i < remainder.size(); ++i, ++given) {
    ++quota[remainder[i].second];
  }
  return quota;
}

void shuffle_indices(std::vector<int64_t>& order, std::mt19937_64& rng) {
  for (int64_t i = static_cast<int64_t>(order.size()) - 1; i > 0; --i) {
    std::swap(order[i], order[static_cast<int64_t>(rng() % static_cast<uint64_t>(i + 1))]);
  }
}

std::vector<int64_t> balanced_epoch(const std::vector<std::vector<int64_t>>& members,
                                    const std::vector<int64_t>& quotas, std::mt19937_64& rng) {
  std::vector<int64_t> epoch;
  for (size_t k = 0; k < members.size() && k < quotas.size(); ++k) {
    if (members[k].empty()) continue;
    std::vector<int64_t> order = members[k];
    shuffle_indices(order, rng);
    for (int64_t i = 0; i < quotas[k]; ++i) {
      epoch.push_back(order[static_cast<size_t>(i) % order.size()]);
    }
  }
  shuffle_indices(epoch, rng);
  return epoch;
}

}  // namespace ddpm
