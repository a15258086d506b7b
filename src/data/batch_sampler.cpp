#include "ddpm/data/batch_sampler.h"

#include <random>

#include "ddpm/data/class_balance.h"

namespace ddpm {

BatchSampler::BatchSampler(const Dataset& data, bool random_flip, DataPosition position,
                           double class_balance)
    : data_(data), random_flip_(random_flip), class_balance_(class_balance), position_(position) {
  if (class_balance_ > 0) {
    auto labels = data_.labels.to(torch::kLong).contiguous();
    const int64_t* label = labels.data_ptr<int64_t>();
    for (int64_t i = 0; i < data_.size(); ++i) {
      if (label[i] >= static_cast<int64_t>(members_.size())) members_.resize(label[i] + 1);
      members_[label[i]].push_back(i);
    }
    std::vector<int64_t> counts;
    for (const auto& m : members_) counts.push_back(static_cast<int64_t>(m.size()));
    quotas_ = class_quotas(counts, class_balance_, data_.size());
  }
  start_epoch();
}

void BatchSampler::start_epoch() {
  const int64_t n = data_.size();
  std::mt19937_64 rng(static_cast<uint64_t>(position_.seed) * 0x9E3779B97F4A7C15ull +
                      static_cast<uint64_t>(position_.epoch));
  if (class_balance_ > 0) {
    order_ = balanced_epoch(members_, quotas_, rng);
  } else {
    order_.resize(n);
    for (int64_t i = 0; i < n; ++i) order_[i] = i;
    shuffle_indices(order_, rng);
  }
  flips_.resize(n);
  for (auto& f : flips_) f = random_flip_ ? static_cast<uint8_t>(rng() & 1) : 0;
}

BatchSampler::Batch BatchSampler::next(int64_t batch_size, const Shard& shard) {
  const int64_t begin = shard.begin(batch_size), size = shard.size(batch_size);
  std::vector<int64_t> indices;
  std::vector<int64_t> flip_rows;
  indices.reserve(size);
  for (int64_t row = 0; row < batch_size; ++row) {
    if (position_.index >= data_.size()) {
      ++position_.epoch;
      position_.index = 0;
      start_epoch();
    }
    const int64_t at = position_.index++;
    if (row < begin || row >= begin + size) continue;
    if (flips_[at]) flip_rows.push_back(static_cast<int64_t>(indices.size()));
    indices.push_back(order_[at]);
  }
  auto idx = torch::from_blob(indices.data(), {size}, torch::kLong).clone();
  auto images = to_model_range(data_.images.index_select(0, idx));
  if (!flip_rows.empty()) {
    auto rows =
        torch::from_blob(flip_rows.data(), {static_cast<int64_t>(flip_rows.size())}, torch::kLong)
            .clone();
    images.index_copy_(0, rows, images.index_select(0, rows).flip({3}));  // horizontal flip
  }
  return {images, data_.labels.index_select(0, idx)};
}

}  // namespace ddpm
