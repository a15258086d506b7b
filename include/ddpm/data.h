// Image-folder data sets: scan, decode once into a uint8 cache, shuffle per epoch, batch in [-1,
// 1].
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "ddpm/data_position.h"
#include "ddpm/shard.h"

namespace ddpm {

struct Dataset {
  torch::Tensor images;                  // uint8 [N, C, H, W]
  torch::Tensor labels;                  // int64 [N]; all 0 without classes
  std::vector<std::string> class_names;  // sorted first-level subfolder names (when with_classes)
  int64_t skipped = 0;                   // files that could not be decoded
  int64_t size() const { return images.defined() ? images.size(0) : 0; }
};

struct DataOptions {
  int64_t image_size = 32;
  int64_t channels = 3;
  bool with_classes = false;      // first-level subfolders are classes
  bool disk_cache = true;         // reuse/write <folder>/.ddpm-cache-<size>-<channels>.bin
  std::string key = "data.path";  // what names the folder in messages (a config key or a flag)
  bool write_cache = true;        // false: read a cache but never write one (workers but rank 0)
};

// Decoded image files under `folder`, recursively, sorted by path. Corrupt, unreadable or absurdly
// shaped files, and entries that cannot be listed, are skipped with one warning each on `log`; a
// missing or empty folder, or one where nothing decodes, is an error.
Dataset load_image_folder(const std::string& folder, const DataOptions& options, std::ostream& log);

// uint8 images [N, C, H, W] as the model sees them: float32 in [-1, 1].
torch::Tensor to_model_range(const torch::Tensor& images);

// True for the extensions stb decodes.
bool is_image_file(const std::string& path);

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
