// Image folders: scan, decode once into a uint8 cache (data_cache.h), reuse the cache while the
// folder and the model's geometry match it.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "ddpm/data/dataset.h"
#include "ddpm/data/image_io.h"

namespace ddpm {

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

// One image file decoded, converted to `channels` and resized and centre-cropped to size × size as
// training data is: CHW bytes. Throws ddpm::Error naming the file.
std::vector<uint8_t> decode_for_model(const std::string& path, int64_t size, int64_t channels);
// The same for an image already decoded (`name` for messages).
std::vector<uint8_t> model_pixels(const Image& image, int64_t size, int64_t channels,
                                  const std::string& name);

// True for the extensions stb decodes.
bool is_image_file(const std::string& path);

}  // namespace ddpm
