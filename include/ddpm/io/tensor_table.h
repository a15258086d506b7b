// Loading a module's tensors from a LibTorch archive with every name, shape and dtype checked
// first: LibTorch's own Module::load accepts any shape and fails later, deep inside a forward pass.
#pragma once
#include <torch/nn/module.h>
#include <torch/serialize/input-archive.h>

#include <string>

namespace ddpm {

// Copies the archive's parameters and buffers into `module` (on the module's device). Throws
// ddpm::Error "WHERE: PATH.NAME: ..." for a missing tensor, a shape or dtype that differs from the
// module's, a non-finite value, or an entry the module does not have; `module` is unchanged then.
void load_checked(torch::nn::Module& module, torch::serialize::InputArchive& archive,
                  const std::string& where);

}  // namespace ddpm
