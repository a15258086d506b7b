// Loading a TorchScript module given on the command line (feature networks, classifiers), with
// one-line errors that name what the module is for and the file.
#pragma once
#include <torch/script.h>

#include <string>

namespace ddpm {

// Loads `path` onto `device` in eval mode. `role` ("feature network") names it in errors;
// `missing_hint` says where such a file comes from. The keys of `extra_files`, where given, are
// looked up among the module's extra files: the values are their contents, empty where absent.
torch::jit::Module load_script_module(const std::string& path, torch::Device device,
                                      const std::string& role, const std::string& missing_hint,
                                      torch::jit::ExtraFilesMap* extra_files = nullptr);

}  // namespace ddpm
