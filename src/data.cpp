#include "ddpm/data.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <random>

#include "ddpm/atomic_file.h"
#include "ddpm/error.h"
#include "ddpm/image_io.h"

namespace ddpm {
namespace fs = std::filesystem;

namespace {

constexpr char kCacheMagic[8] = {'D', 'D', 'P', 'M', 'D', 'A', 'T', '1'};

struct FileEntry {
  std::string path;
  int64_t label;
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// A key for the cache: every file's relative path, size and modification time, and the options.
uint64_t listing_key(const std::vector<FileEntry>& files, const DataOptions& o,
                     const std::string& root) {
  std::string text = std::to_string(o.image_size) + "/" + std::to_string(o.channels) + "/" +
                     std::to_string(o.with_classes);
  for (const auto& f : files) {
    std::error_code ec;
    text += "\n" + fs::relative(f.path, root, ec).string() + "|" +
            std::to_string(fs::file_size(f.path, ec)) + "|" +
            std::to_string(fs::last_write_time(f.path, ec).time_since_epoch().count()) + "|" +
            std::to_string(f.label);
  }
  const auto* p = reinterpret_cast<const uint8_t*>(text.data());
  return (uint64_t{crc32(p, text.size())} << 32) | crc32(p, text.size(), 0x9E3779B9u);
}

std::string cache_path(const std::string& folder, const DataOptions& o) {
  return (fs::path(folder) / (".ddpm-cache-" + std::to_string(o.image_size) + "-" +
                              std::to_string(o.channels) + ".bin")).string();
}

template <class T>
void put(std::string& out, const T& v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof(T));
}

template <class T>
bool get(std::ifstream& in, T& v) {
  return static_cast<bool>(in.read(reinterpret_cast<char*>(&v), sizeof(T)));
}

bool read_cache(const std::string& path, uint64_t key, Dataset& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  char magic[8];
  uint64_t stored_key = 0;
  int64_t n = 0, c = 0, h = 0, w = 0, skipped = 0, names = 0;
  if (!in.read(magic, 8) || std::memcmp(magic, kCacheMagic, 8) != 0) return false;
  if (!get(in, stored_key) || stored_key != key) return false;
  if (!get(in, n) || !get(in, c) || !get(in, h) || !get(in, w) || !get(in, skipped) ||
      !get(in, names) || n <= 0 || names < 0 || names > (1 << 20)) {
    return false;
  }
  std::vector<std::string> class_names;
  for (int64_t i = 0; i < names; ++i) {
    uint32_t len = 0;
    if (!get(in, len) || len > 4096) return false;
    std::string name(len, '\0');
    if (!in.read(name.data(), len)) return false;
    class_names.push_back(name);
  }
  auto labels = torch::empty({n}, torch::kLong);
  auto images = torch::empty({n, c, h, w}, torch::kUInt8);
  if (!in.read(reinterpret_cast<char*>(labels.data_ptr<int64_t>()), n * 8)) return false;
  if (!in.read(reinterpret_cast<char*>(images.data_ptr<uint8_t>()), images.numel())) return false;
  out = Dataset{images, labels, class_names, skipped};
  return true;
}

void write_cache(const std::string& path, uint64_t key, const Dataset& d, std::ostream& log) {
  std::string bytes(kCacheMagic, 8);
  put(bytes, key);
  for (int64_t v : {d.images.size(0), d.images.size(1), d.images.size(2), d.images.size(3),
                    d.skipped, static_cast<int64_t>(d.class_names.size())}) {
    put(bytes, v);
  }
  for (const auto& name : d.class_names) {
    put(bytes, static_cast<uint32_t>(name.size()));
    bytes += name;
  }
  bytes.append(reinterpret_cast<const char*>(d.labels.data_ptr<int64_t>()), d.size() * 8);
  bytes.append(reinterpret_cast<const char*>(d.images.data_ptr<uint8_t>()), d.images.numel());
  try {
    write_file_atomically(path, bytes.data(), bytes.size());
  } catch (const Error& e) {
    log << "warning: data cache not written: " << e.what() << "\n";
  }
}

}  // namespace

bool is_image_file(const std::string& path) {
  static const char* exts[] = {".png", ".jpg", ".jpeg", ".bmp", ".tga", ".gif",
                               ".psd", ".pgm", ".ppm", ".pnm", ".hdr", ".pic"};
  const std::string ext = lower(fs::path(path).extension().string());
  return std::any_of(std::begin(exts), std::end(exts), [&](const char* e) { return ext == e; });
}

Dataset load_image_folder(const std::string& folder, const DataOptions& options,
                          std::ostream& log) {
  std::error_code ec;
  if (!fs::exists(folder, ec)) {
    throw Error("data folder " + folder + " does not exist (set data.path; for the built-in set run "
                "'ddpm data emoji --out " + folder + "')");
  }
  if (!fs::is_directory(folder, ec)) throw Error("data.path " + folder + " is not a folder");

  std::vector<std::string> class_names;
  if (options.with_classes) {
    for (const auto& entry : fs::directory_iterator(folder, ec)) {
      if (entry.is_directory() && entry.path().filename().string()[0] != '.') {
        class_names.push_back(entry.path().filename().string());
      }
    }
    std::sort(class_names.begin(), class_names.end());
    if (class_names.empty()) {
      throw Error("data folder " + folder + " has no class subfolders, but model.num_classes > 0; "
                  "put each class's images in its own subfolder");
    }
  }
  std::vector<FileEntry> files;
  auto scan = [&](const fs::path& dir, int64_t label) {
    fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
    if (ec) throw Error("data folder " + dir.string() + ": cannot read (" + ec.message() + ")");
    for (const auto& entry : it) {
      if (entry.is_regular_file() && is_image_file(entry.path().string()) &&
          entry.path().filename().string()[0] != '.') {
        files.push_back({entry.path().string(), label});
      }
    }
  };
  if (options.with_classes) {
    for (size_t i = 0; i < class_names.size(); ++i) scan(fs::path(folder) / class_names[i], i);
  } else {
    scan(folder, 0);
  }
  std::sort(files.begin(), files.end(),
            [](const FileEntry& a, const FileEntry& b) { return a.path < b.path; });
  if (files.empty()) {
    throw Error("data folder " + folder + " contains no image files (png, jpg, bmp, tga, gif, ...)");
  }

  const uint64_t key = listing_key(files, options, folder);
  const std::string cache = cache_path(folder, options);
  Dataset data;
  if (options.disk_cache && read_cache(cache, key, data)) {
    log << "data: " << data.size() << " images from cache " << cache << "\n";
    return data;
  }

  const int64_t S = options.image_size, C = options.channels;
  std::vector<uint8_t> pixels;
  std::vector<int64_t> labels;
  int64_t skipped = 0;
  for (const auto& f : files) {
    Image image;
    try {
      image = decode_image_file(f.path);
    } catch (const Error& e) {
      log << "warning: skipping " << e.what() << "\n";
      ++skipped;
      continue;
    }
    Image ready = resize_center_crop(convert_channels(image, static_cast<int>(C)),
                                     static_cast<int>(S));
    // HWC → CHW
    const size_t base = pixels.size();
    pixels.resize(base + static_cast<size_t>(C * S * S));
    for (int64_t y = 0; y < S; ++y) {
      for (int64_t x = 0; x < S; ++x) {
        for (int64_t c = 0; c < C; ++c) {
          pixels[base + (c * S + y) * S + x] = ready.pixels[(y * S + x) * C + c];
        }
      }
    }
    labels.push_back(f.label);
  }
  if (labels.empty()) {
    throw Error("data folder " + folder + ": none of its " + std::to_string(files.size()) +
                " image files could be decoded");
  }
  if (skipped > 0) log << "warning: " << skipped << " of " << files.size() << " files skipped\n";
  const int64_t n = static_cast<int64_t>(labels.size());
  data.images = torch::from_blob(pixels.data(), {n, C, S, S}, torch::kUInt8).clone();
  data.labels = torch::from_blob(labels.data(), {n}, torch::kLong).clone();
  data.class_names = class_names;
  data.skipped = skipped;
  log << "data: " << n << " images from " << folder << " (" << S << "x" << S << ", " << C
      << " channels)\n";
  if (options.disk_cache) write_cache(cache, key, data, log);
  return data;
}

BatchSampler::BatchSampler(const Dataset& data, bool random_flip, DataPosition position)
    : data_(data), random_flip_(random_flip), position_(position) {
  start_epoch();
}

void BatchSampler::start_epoch() {
  const int64_t n = data_.size();
  std::mt19937_64 rng(static_cast<uint64_t>(position_.seed) * 0x9E3779B97F4A7C15ull +
                      static_cast<uint64_t>(position_.epoch));
  order_.resize(n);
  for (int64_t i = 0; i < n; ++i) order_[i] = i;
  for (int64_t i = n - 1; i > 0; --i) {  // Fisher–Yates with our own RNG: identical everywhere
    std::swap(order_[i], order_[static_cast<int64_t>(rng() % static_cast<uint64_t>(i + 1))]);
  }
  flips_.resize(n);
  for (auto& f : flips_) f = random_flip_ ? static_cast<uint8_t>(rng() & 1) : 0;
}

BatchSampler::Batch BatchSampler::next(int64_t batch_size) {
  std::vector<int64_t> indices;
  std::vector<int64_t> flip_rows;
  indices.reserve(batch_size);
  while (static_cast<int64_t>(indices.size()) < batch_size) {
    if (position_.index >= data_.size()) {
      ++position_.epoch;
      position_.index = 0;
      start_epoch();
    }
    if (flips_[position_.index]) flip_rows.push_back(static_cast<int64_t>(indices.size()));
    indices.push_back(order_[position_.index++]);
  }
  auto idx = torch::from_blob(indices.data(), {batch_size}, torch::kLong).clone();
  auto images = data_.images.index_select(0, idx).to(torch::kFloat32).div_(127.5).sub_(1.0);
  if (!flip_rows.empty()) {
    auto rows = torch::from_blob(flip_rows.data(), {static_cast<int64_t>(flip_rows.size())},
                                 torch::kLong).clone();
    images.index_copy_(0, rows, images.index_select(0, rows).flip({3}));  // horizontal flip
  }
  return {images, data_.labels.index_select(0, idx)};
}

}  // namespace ddpm
