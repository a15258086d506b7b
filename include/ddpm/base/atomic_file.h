// Crash-safe file replacement: write a temporary file in the same folder, fsync, rename, fsync the
// folder.
#pragma once
#include <cstddef>
#include <string>

namespace ddpm {

// After this returns, `path` holds exactly `data`; if the process dies at any moment, `path` holds
// either its old content or the new one, never a mix. Throws ddpm::Error (e.g. disk full) and then
// leaves the old file untouched and no temporary behind.
void write_file_atomically(const std::string& path, const void* data, size_t size);

}  // namespace ddpm
