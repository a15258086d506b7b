// Batches of a data set in [-1, 1], in a per-epoch order that is a pure function of the seed and
// the epoch, optionally class-balanced, sharded among data-parallel workers.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "ddpm/data/data_position.h"
#include "ddpm/data/dataset.h"
#include "ddpm/data/shard.h"

namespace ddpm {

// Yields batches in a per-epoch random order (permutation and flips a pure function of seed and
// epoch), so a run resumed from a DataPosition sees exactly the batches it would have seen. With
// class_balance b > 0, an epoch (still data.size() draws) gives class k a share proportional to
// n_k^(1 - b) (class_balance.h); b = 0 is one plain permutation of the data.
class BatchSampler {
 public:
  BatchSampler(const Dataset& data, bool random_flip, DataPosition position,
               double class_balance = 0.0);

  struct Batch {
    torch::Tensor images;  // float [B, C, H, W] in [-1, 1]
    torch::Tensor labels;  // int64 [B]
  };
  // The next global batch of `batch_size` images, of which only `shard`'s rows are decoded and
  // returned; the position advances by the whole batch, so it counts global samples.
  Batch next(int64_t batch_size, const Shard& shard = {});
  const DataPosition& position() const { return position_; }

 private:
  void start_epoch();

  const Dataset& data_;
  bool random_flip_;
  double class_balance_;
  std::vector<std::vector<int64_t>> members_;  // data indices of each class (class_balance > 0)
  std::vector<int64_t> quotas_;                // draws of each class per epoch
  DataPosition position_;
  std::vector<int64_t> order_;
  std::vector<uint8_t> flips_;
};

}  // namespace ddpm
