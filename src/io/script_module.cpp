#include "ddpm/io/script_module.h"

#include <filesystem>

#include "ddpm/base/error.h"
#include "ddpm/base/file_input.h"

namespace ddpm {

torch::jit::Module load_script_module(const std::string& path, torch::Device device,
                                      const std::string& role, const std::string& missing_hint,
                                      torch::jit::ExtraFilesMap* extra_files) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    throw Error(role + " " + path + ": file not found (" + missing_hint + ")");
  }
  try {
    check_input_file(path, "TorchScript file");
  } catch (const Error& e) {
    throw Error(role + " " + e.what());
  }
  torch::jit::Module module;
  try {
    torch::jit::ExtraFilesMap none;
    module = torch::jit::load(path, device, extra_files ? *extra_files : none);
  } catch (const c10::Error& e) {
    const std::string what = e.what_without_backtrace();
    throw Error(role + " " + path + ": not a loadable TorchScript module (" +
                what.substr(0, what.find('\n')) + ")");
  }
  module.eval();
  return module;
}

}  // namespace ddpm
