// The safetensors format (Hugging Face): u64 little-endian header length N, N bytes of JSON header
// {"__metadata__": {string: string}, NAME: {"dtype", "shape", "data_offsets": [begin, end]}, ...},
// then the tensors' bytes, row-major, little-endian. Reading checks every field before use.
#pragma once
#include <torch/nn/module.h>
#include <torch/types.h>

#include <map>
#include <string>
#include <vector>

namespace ddpm {

struct SafeTensors {
  std::map<std::string, std::string> metadata;
  std::map<std::string, torch::Tensor> tensors;  // CPU, contiguous
};

// Encodes (tensor names sorted, header padded with spaces to a multiple of 8 bytes).
std::vector<uint8_t> encode_safetensors(const SafeTensors& file);
// Decodes; throws ddpm::Error "NAME: ..." for a header longer than the file, invalid or nested-deep
// JSON, an unknown dtype, a shape that disagrees with the byte range, ranges outside the data or
// overlapping, or bytes no tensor covers.
SafeTensors decode_safetensors(const std::vector<uint8_t>& bytes, const std::string& name);

// A module's parameters and buffers under their module paths ("down.0.conv.weight"), on the CPU.
std::map<std::string, torch::Tensor> module_tensors(torch::nn::Module& module);
// Copies `tensors` into `module` after checking that the names are exactly the module's and every
// shape matches; floating values are converted to the module's dtype. Throws ddpm::Error naming
// `where` and the first tensor at fault; `module` is unchanged then.
void load_module_tensors(torch::nn::Module& module,
                         const std::map<std::string, torch::Tensor>& tensors,
                         const std::string& where);

}  // namespace ddpm
