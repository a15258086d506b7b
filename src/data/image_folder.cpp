#include "ddpm/data/image_folder.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <ostream>

#include "ddpm/base/atomic_file.h"
#include "ddpm/base/crc.h"
#include "ddpm/base/error.h"
#include "ddpm/data/data_cache.h"
#include "ddpm/data/image_io.h"

namespace ddpm {
namespace fs = std::filesystem;

namespace {

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
                              std::to_string(o.channels) + ".bin"))
      .string();
}

void write_cache(const std::string& path, uint64_t key, const Dataset& d, std::ostream& log) {
  const std::string bytes = serialize_data_cache(d, key);
  try {
    write_file_atomically(path, bytes.data(), bytes.size());
  } catch (const Error& e) {
    log << "warning: data cache not written: " << e.what() << "\n";
  }
}

// The image files under `dir`, recursively. Entries that cannot be read (permissions, a symlink
// loop, a dangling link) are skipped with a warning, as are the folders that cannot be listed.
void scan_folder(const fs::path& dir, int64_t label, std::vector<FileEntry>& files,
                 const std::string& key, std::ostream& log) {
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  if (ec) throw Error(key + " " + dir.string() + ": cannot read the folder (" + ec.message() + ")");
  for (const fs::recursive_directory_iterator end; it != end; it.increment(ec)) {
    if (ec) {
      log << "warning: skipping an entry of " << dir.string() << ": " << ec.message() << "\n";
      ec.clear();
      continue;
    }
    const fs::path& path = it->path();
    if (path.filename().string()[0] == '.' || !is_image_file(path.string())) continue;
    std::error_code status_ec;
    const bool regular = it->is_regular_file(status_ec);
    if (status_ec) {
      log << "warning: skipping " << path.string() << ": " << status_ec.message() << "\n";
    } else if (regular) {
      files.push_back({path.string(), label});
    }
  }
  if (ec) log << "warning: stopped listing " << dir.string() << ": " << ec.message() << "\n";
}

}  // namespace

std::vector<uint8_t> decode_for_model(const std::string& path, int64_t size, int64_t channels) {
  return model_pixels(decode_image_file(path), size, channels, path);
}

std::vector<uint8_t> model_pixels(const Image& image, int64_t size, int64_t channels,
                                  const std::string& name) {
  Image ready = resize_center_crop(convert_channels(image, static_cast<int>(channels)),
                                   static_cast<int>(size), name);
  std::vector<uint8_t> chw(static_cast<size_t>(channels * size * size));
  for (int64_t y = 0; y < size; ++y) {
    for (int64_t x = 0; x < size; ++x) {
      for (int64_t c = 0; c < channels; ++c) {
        chw[(c * size + y) * size + x] = ready.pixels[(y * size + x) * channels + c];
      }
    }
  }
  return chw;
}

bool is_image_file(const std::string& path) {
  static const char* exts[] = {".png", ".jpg", ".jpeg", ".bmp", ".tga", ".gif",
                               ".psd", ".pgm", ".ppm",  ".pnm", ".hdr", ".pic"};
  const std::string ext = lower(fs::path(path).extension().string());
  return std::any_of(std::begin(exts), std::end(exts), [&](const char* e) { return ext == e; });
}

namespace {

// The class subfolders of `folder`, sorted (hidden ones left out).
std::vector<std::string> class_folders(const std::string& folder, const std::string& key) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code dir_ec;
    if (it->is_directory(dir_ec) && it->path().filename().string()[0] != '.') {
      names.push_back(it->path().filename().string());
    }
  }
  if (ec) throw Error(key + " " + folder + ": cannot list the folder (" + ec.message() + ")");
  std::sort(names.begin(), names.end());
  if (names.empty()) {
    throw Error(key + " " + folder +
                ": has no class subfolders, but model.num_classes > 0; "
                "put each class's images in its own subfolder");
  }
  return names;
}

// The image files under `folder` (class i's from its subfolder), sorted by path.
std::vector<FileEntry> list_images(const std::string& folder,
                                   const std::vector<std::string>& classes,
                                   const DataOptions& options, std::ostream& log) {
  std::vector<FileEntry> files;
  if (options.with_classes) {
    for (size_t i = 0; i < classes.size(); ++i) {
      scan_folder(fs::path(folder) / classes[i], static_cast<int64_t>(i), files, options.key, log);
    }
  } else {
    scan_folder(folder, 0, files, options.key, log);
  }
  std::sort(files.begin(), files.end(),
            [](const FileEntry& a, const FileEntry& b) { return a.path < b.path; });
  if (files.empty()) {
    throw Error(options.key + " " + folder +
                ": contains no image files (png, jpg, bmp, tga, gif, ...)");
  }
  return files;
}

// Decodes every file (skipping, with a warning, those that fail) into uint8 [N, C, S, S].
Dataset decode_images(const std::string& folder, const std::vector<FileEntry>& files,
                      const DataOptions& options, std::ostream& log) {
  const int64_t S = options.image_size, C = options.channels;
  std::vector<uint8_t> pixels;
  std::vector<int64_t> labels;
  int64_t skipped = 0;
  for (const auto& f : files) {
    try {
      const auto chw = decode_for_model(f.path, S, C);
      pixels.insert(pixels.end(), chw.begin(), chw.end());
      labels.push_back(f.label);
    } catch (const Error& e) {
      log << "warning: skipping " << e.what() << "\n";
      ++skipped;
    }
  }
  if (labels.empty()) {
    throw Error(options.key + " " + folder + ": none of its " + std::to_string(files.size()) +
                " image files could be decoded");
  }
  if (skipped > 0) log << "warning: " << skipped << " of " << files.size() << " files skipped\n";
  const int64_t n = static_cast<int64_t>(labels.size());
  Dataset data;
  data.images = torch::from_blob(pixels.data(), {n, C, S, S}, torch::kUInt8).clone();
  data.labels = torch::from_blob(labels.data(), {n}, torch::kLong).clone();
  data.skipped = skipped;
  log << "data: " << n << " images from " << folder << " (" << S << "x" << S << ", " << C
      << " channels)\n";
  return data;
}

}  // namespace

Dataset load_image_folder(const std::string& folder, const DataOptions& options,
                          std::ostream& log) {
  const std::string& key = options.key;
  std::error_code ec;
  if (!fs::exists(folder, ec)) {
    throw Error(key + " " + folder +
                ": the folder does not exist (for the built-in sets run "
                "'ddpm data emoji' or 'ddpm data fashion-mnist')");
  }
  if (!fs::is_directory(folder, ec)) throw Error(key + " " + folder + ": is not a folder");
  std::vector<std::string> class_names;
  if (options.with_classes) class_names = class_folders(folder, key);
  const auto files = list_images(folder, class_names, options, log);
  const CacheExpectation expect{listing_key(files, options, folder), options.channels,
                                options.image_size, class_names,
                                static_cast<int64_t>(files.size())};
  const std::string cache = cache_path(folder, options);
  if (options.disk_cache) {
    if (auto cached = read_data_cache(cache, expect, log)) {
      log << "data: " << cached->size() << " images from cache " << cache << "\n";
      return *cached;
    }
  }
  Dataset data = decode_images(folder, files, options, log);
  data.class_names = class_names;
  if (options.disk_cache && options.write_cache) write_cache(cache, expect.key, data, log);
  return data;
}

}  // namespace ddpm
