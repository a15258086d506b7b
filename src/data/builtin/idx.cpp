#include "ddpm/data/builtin/idx.h"

#include <zlib.h>

#include <filesystem>
#include <iomanip>
#include <memory>
#include <sstream>

#include "ddpm/base/bytes.h"
#include "ddpm/base/error.h"
#include "ddpm/data/image_io.h"

namespace fs = std::filesystem;

namespace ddpm {

namespace {

constexpr size_t kMaxIdxBytes = size_t{1} << 30;  // 1 GiB decompressed: far above any MNIST file

std::vector<uint8_t> read_maybe_gzipped(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw Error(path + ": no such file");
  std::unique_ptr<gzFile_s, int (*)(gzFile)> file(gzopen(path.c_str(), "rb"), gzclose);
  if (!file) throw Error(path + ": cannot open for reading");
  std::vector<uint8_t> bytes;
  std::vector<uint8_t> chunk(1 << 20);
  while (true) {
    const int n = gzread(file.get(), chunk.data(), static_cast<unsigned>(chunk.size()));
    if (n < 0) {
      int code = 0;
      throw Error(path + ": corrupt gzip data (" + gzerror(file.get(), &code) +
                  "); reinstall the package or download the file again");
    }
    if (n == 0) break;
    bytes.insert(bytes.end(), chunk.begin(), chunk.begin() + n);
    if (bytes.size() > kMaxIdxBytes)
      throw Error(path + ": more than 1 GiB of data: not an IDX file");
  }
  return bytes;
}

}  // namespace

IdxArray parse_idx(const std::vector<uint8_t>& bytes, const std::string& name) {
  if (bytes.size() < 4 || bytes[0] != 0 || bytes[1] != 0) {
    throw Error(name + ": not an IDX file (bad magic number)");
  }
  if (bytes[2] != 0x08) throw Error(name + ": IDX element type is not unsigned bytes (0x08)");
  const int ndim = bytes[3];
  if (ndim < 1 || ndim > 4)
    throw Error(name + ": IDX with " + std::to_string(ndim) + " dimensions");
  if (bytes.size() < 4 + 4 * static_cast<size_t>(ndim))
    throw Error(name + ": truncated IDX header");
  IdxArray array;
  uint64_t count = 1;
  for (int i = 0; i < ndim; ++i) {
    const uint32_t d = read_be32(bytes.data() + 4 + 4 * i);
    array.dims.push_back(d);
    count *= d;
    if (count > kMaxIdxBytes) throw Error(name + ": IDX sizes exceed 1 GiB");
  }
  const size_t header = 4 + 4 * static_cast<size_t>(ndim);
  if (bytes.size() - header != count) {
    throw Error(name + ": IDX header promises " + std::to_string(count) +
                " bytes of data, the file has " + std::to_string(bytes.size() - header) +
                " (truncated or corrupt)");
  }
  array.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header), bytes.end());
  return array;
}

IdxArray read_idx(const std::string& path) { return parse_idx(read_maybe_gzipped(path), path); }

const std::vector<std::string>& fashion_mnist_classes() {
  // Numbered so that the folders sort (and so number their classes) in the data set's label order.
  static const std::vector<std::string> names = {
      "0_T-shirt-top", "1_Trouser", "2_Pullover", "3_Dress", "4_Coat",
      "5_Sandal",      "6_Shirt",   "7_Sneaker",  "8_Bag",   "9_Ankle-boot"};
  return names;
}

namespace {

// Checks one split's images [N, 28, 28] and labels [N] and writes them as PNG folders.
int64_t write_split(const IdxArray& images, const IdxArray& labels, const std::string& images_name,
                    const std::string& labels_name, const fs::path& out) {
  if (images.dims.size() != 3 || images.dims[1] != 28 || images.dims[2] != 28) {
    throw Error(images_name + ": expected N×28×28 images");
  }
  if (labels.dims.size() != 1 || labels.dims[0] != images.dims[0]) {
    throw Error(labels_name + ": expected one label per image in " + images_name);
  }
  const auto& classes = fashion_mnist_classes();
  for (const auto& c : classes) fs::create_directories(out / c);
  const int64_t n = images.dims[0];
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t label = labels.data[i];
    if (label >= classes.size()) {
      throw Error(labels_name + ": label " + std::to_string(label) + " at index " +
                  std::to_string(i) + " is not a class (0-9): corrupt file");
    }
    Image image{28, 28, 1, {}};
    image.pixels.assign(images.data.begin() + i * 784, images.data.begin() + (i + 1) * 784);
    std::ostringstream file;
    file << std::setw(5) << std::setfill('0') << i << ".png";
    write_png((out / classes[label] / file.str()).string(), image);
  }
  return n;
}

}  // namespace

int64_t extract_fashion_mnist(const std::string& source, const std::string& out) {
  std::error_code ec;
  if (!fs::is_directory(source, ec)) {
    throw Error(
        source +
        ": not found; install Debian's package: sudo apt-get install dataset-fashion-mnist");
  }
  if (fs::exists(out, ec)) throw Error(out + ": already exists; remove it or choose another --out");
  // Written beside the target and renamed at the end: an interrupted run leaves no half folder that
  // a later `ddpm data` or setup would take for the finished one.
  const fs::path partial = fs::path(out).string() + ".partial";
  fs::remove_all(partial, ec);
  int64_t written = 0;
  for (const auto& [split, prefix] :
       {std::pair<std::string, std::string>{"train", "train"}, {"test", "t10k"}}) {
    const std::string images_path = source + "/" + prefix + "-images-idx3-ubyte.gz";
    const std::string labels_path = source + "/" + prefix + "-labels-idx1-ubyte.gz";
    written += write_split(read_idx(images_path), read_idx(labels_path), images_path, labels_path,
                           partial / split);
  }
  fs::rename(partial, out);
  return written;
}

}  // namespace ddpm
