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

// Keeps freed tensor memory in the process instead of returning it to the kernel, so the identical
// allocations of every training or sampling step reuse warm pages (no mmap/munmap, no page faults).
// Called once at start-up by main().
void tune_allocator();
// CUDA: TF32 for float32 matrix products and convolutions, cuDNN autotuning (pick_device applies
// it). No-op on the CPU.
void configure_device(const torch::Device& device);

}  // namespace ddpm
