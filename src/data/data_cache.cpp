#include "ddpm/data/data_cache.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "ddpm/base/bytes.h"

namespace ddpm {
namespace {

constexpr char kCacheMagic[8] = {'D', 'D', 'P', 'M', 'D', 'A', 'T', '1'};
constexpr size_t kHeaderBytes = 8 + 8 + 6 * 8;  // magic, key, n, c, h, w, skipped, names

// A bounds-checked reader over the cache bytes.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  template <class T>
  bool get(T& v) {
    if (size_ - pos_ < sizeof(T)) return false;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool get_string(size_t len, std::string& out) {
    if (size_ - pos_ < len) return false;
    out.assign(reinterpret_cast<const char*>(data_ + pos_), len);
    pos_ += len;
    return true;
  }
  size_t remaining() const { return size_ - pos_; }
  const uint8_t* here() const { return data_ + pos_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

constexpr const char* kStale = "the folder's files changed since it was written";

bool fail(std::string& why, const std::string& reason) {
  why = reason;
  return false;
}

// The header: magic, key, geometry and counts, against what the folder and the model need.
bool check_header(Reader& in, const CacheExpectation& e, int64_t& n, int64_t& skipped,
                  int64_t& names, std::string& why) {
  char magic[8];
  uint64_t key = 0;
  int64_t c = 0, h = 0, w = 0;
  if (!in.get(magic) || std::memcmp(magic, kCacheMagic, 8) != 0)
    return fail(why, "not a ddpm data cache");
  if (!in.get(key) || !in.get(n) || !in.get(c) || !in.get(h) || !in.get(w) || !in.get(skipped) ||
      !in.get(names)) {
    return fail(why, "its header is truncated");
  }
  if (key != e.key) return fail(why, kStale);
  if (c != e.channels || h != e.size || w != e.size) {
    return fail(why, "it holds " + std::to_string(w) + "x" + std::to_string(h) + "x" +
                         std::to_string(c) + " images, the model needs " + std::to_string(e.size) +
                         "x" + std::to_string(e.size) + "x" + std::to_string(e.channels));
  }
  if (n <= 0 || skipped < 0 || n > e.files || skipped > e.files - n) {
    return fail(why, "its image counts (" + std::to_string(n) + " images, " +
                         std::to_string(skipped) + " skipped) do not fit the folder's " +
                         std::to_string(e.files) + " files");
  }
  if (names != static_cast<int64_t>(e.class_names.size())) {
    return fail(why, "it has " + std::to_string(names) + " classes, the folder " +
                         std::to_string(e.class_names.size()));
  }
  return true;
}

}  // namespace

std::optional<Dataset> parse_data_cache(const uint8_t* bytes, size_t size,
                                        const CacheExpectation& e, std::string& why) {
  auto reject = [&](const std::string& reason) {
    why = reason;
    return std::optional<Dataset>();
  };
  Reader in(bytes, size);
  int64_t n = 0, skipped = 0, names = 0;
  if (!check_header(in, e, n, skipped, names, why)) return std::nullopt;
  std::vector<std::string> class_names(static_cast<size_t>(names));
  for (auto& name : class_names) {
    uint32_t len = 0;
    if (!in.get(len) || !in.get_string(len, name)) return reject("its class names are truncated");
  }
  if (class_names != e.class_names) return reject("its class names differ from the folder's");
  const size_t pixels = static_cast<size_t>(n * e.channels * e.size * e.size);
  if (in.remaining() != static_cast<size_t>(n) * 8 + pixels) {
    return reject("its length does not match its header (truncated or padded)");
  }
  auto labels = torch::empty({n}, torch::kLong);
  std::memcpy(labels.data_ptr<int64_t>(), in.here(), static_cast<size_t>(n) * 8);
  const int64_t classes = std::max<int64_t>(1, names);
  if (labels.lt(0).any().item<bool>() || labels.ge(classes).any().item<bool>()) {
    return reject("a label lies outside its " + std::to_string(classes) + " classes");
  }
  auto images = torch::empty({n, e.channels, e.size, e.size}, torch::kUInt8);
  std::memcpy(images.data_ptr<uint8_t>(), in.here() + n * 8, pixels);
  return Dataset{images, labels, class_names, skipped};
}

std::optional<Dataset> read_data_cache(const std::string& path, const CacheExpectation& expect,
                                       std::ostream& log) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct stat st {};
  std::optional<Dataset> data;
  std::string why = "it is not a regular file";
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    const auto size = static_cast<size_t>(st.st_size);
    if (size < kHeaderBytes) {
      why = "its header is truncated";
    } else if (void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
               map != MAP_FAILED) {
      data = parse_data_cache(static_cast<const uint8_t*>(map), size, expect, why);
      ::munmap(map, size);
    } else {
      why = "it cannot be read";
    }
  }
  ::close(fd);
  if (data) return data;
  if (why == kStale) {
    log << "data: cache " << path << " is out of date (" << why << "); decoding the images\n";
  } else {
    log << "warning: data cache " << path << " not used (" << why << "); decoding the images\n";
  }
  return data;
}

std::string serialize_data_cache(const Dataset& d, uint64_t key) {
  std::string bytes(kCacheMagic, 8);
  append_le(bytes, key);
  for (int64_t v : {d.images.size(0), d.images.size(1), d.images.size(2), d.images.size(3),
                    d.skipped, static_cast<int64_t>(d.class_names.size())}) {
    append_le(bytes, v);
  }
  for (const auto& name : d.class_names) {
    append_le(bytes, static_cast<uint32_t>(name.size()));
    bytes += name;
  }
  bytes.append(reinterpret_cast<const char*>(d.labels.data_ptr<int64_t>()), d.size() * 8);
  bytes.append(reinterpret_cast<const char*>(d.images.data_ptr<uint8_t>()), d.images.numel());
  return bytes;
}

}  // namespace ddpm
