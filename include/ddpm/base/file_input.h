// Files read from outside (configs, checkpoints, images, fonts, TorchScript modules): one place
// that turns a missing path, a folder, a device or pipe, or a permission problem into a clear
// error.
#pragma once
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace ddpm {

// Throws ddpm::Error "PATH: <what> not found" / "PATH: is a folder, expected a <what>" / "PATH: is
// not a regular file (a device or pipe), expected a <what>" / "... cannot open ... (check
// permissions)".
void check_input_file(const std::string& path, const std::string& what);

// The whole file after check_input_file; above `max_bytes` it is an error naming the limit.
std::vector<uint8_t> read_file_bytes(const std::string& path, const std::string& what,
                                     size_t max_bytes = std::numeric_limits<size_t>::max());
std::string read_small_file(const std::string& path, size_t max_bytes, const std::string& what);

}  // namespace ddpm
