#include "ddpm/base/file_input.h"

#include <filesystem>
#include <fstream>

#include "ddpm/base/error.h"

namespace ddpm {

void check_input_file(const std::string& path, const std::string& what) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (!fs::exists(status)) throw Error(path + ": " + what + " not found");
  if (fs::is_directory(status)) throw Error(path + ": is a folder, expected a " + what);
  if (!fs::is_regular_file(status)) {
    throw Error(path + ": is not a regular file (a device or pipe), expected a " + what);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open the " + what + " for reading (check permissions)");
}

std::vector<uint8_t> read_file_bytes(const std::string& path, const std::string& what,
                                     size_t max_bytes) {
  check_input_file(path, what);
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (!ec && size > max_bytes) {
    throw Error(path + ": the " + what + " is larger than " + std::to_string(max_bytes >> 10) +
                " KiB; is it the right file?");
  }
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> bytes(ec ? 0 : size);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (static_cast<size_t>(in.gcount()) != bytes.size()) {
    throw Error(path + ": the " + what + " could not be read completely (it changed while read?)");
  }
  return bytes;
}

std::string read_small_file(const std::string& path, size_t max_bytes, const std::string& what) {
  const auto bytes = read_file_bytes(path, what, max_bytes);
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace ddpm
