// Process-wide runtime choices: thread count and device selection.
#pragma once
#include <torch/types.h>

#include <string>

namespace ddpm {

// Sets LibTorch's intra-op threads to `threads`, or to the cores available when 0.
void configure_threads(int64_t threads);
// "auto" → CUDA when available, else CPU; "cpu"; "cuda"/"cuda:N" (error when CUDA is missing).
torch::Device pick_device(const std::string& spec);
std::string describe_device(const torch::Device& device);

}  // namespace ddpm
