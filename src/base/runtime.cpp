#include "ddpm/base/runtime.h"

#include <ATen/Context.h>
#include <malloc.h>
#include <torch/cuda.h>

#include <limits>
#include <thread>

#include "ddpm/base/error.h"

namespace ddpm {

void configure_threads(int64_t threads) {
  if (threads <= 0) threads = std::max<int64_t>(1, std::thread::hardware_concurrency());
  at::set_num_threads(static_cast<int>(threads));
}

void tune_allocator() {
  // glibc serves blocks above M_MMAP_THRESHOLD with fresh mmaps, and every activation of a UNet
  // step is that large: each step would fault in and zero its memory again. Keep it in the heap.
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
}

void configure_device(const torch::Device& device) {
  if (!device.is_cuda()) return;
  auto& context = at::globalContext();
  context.setAllowTF32CuBLAS(true);
  context.setAllowTF32CuDNN(true);
  context.setBenchmarkCuDNN(true);
}

torch::Device pick_device(const std::string& spec) {
  if (spec == "auto") {
    if (!torch::cuda::is_available()) return torch::kCPU;
    configure_device(torch::Device(torch::kCUDA, 0));
    return torch::Device(torch::kCUDA, 0);
  }
  if (spec == "cpu") return torch::kCPU;
  if (spec.rfind("cuda", 0) == 0) {
    if (!torch::cuda::is_available()) {
      throw Error("device " + spec +
                  ": CUDA is not available in this build or machine; use --device cpu");
    }
    int64_t index = 0;
    if (spec.size() > 4) {
      if (spec[4] != ':') throw Error("device " + spec + ": expected cuda or cuda:N");
      try {
        index = std::stoll(spec.substr(5));
      } catch (const std::exception&) {
        throw Error("device " + spec + ": expected cuda or cuda:N");
      }
    }
    if (index < 0 || index >= static_cast<int64_t>(torch::cuda::device_count())) {
      throw Error("device " + spec + ": no such GPU (" +
                  std::to_string(torch::cuda::device_count()) + " visible)");
    }
    const torch::Device device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
    configure_device(device);
    return device;
  }
  throw Error("device \"" + spec + "\": expected auto, cpu, cuda or cuda:N");
}

std::string describe_device(const torch::Device& device) {
  if (device.is_cpu()) {
    const int threads = at::get_num_threads();
    return "cpu (" + std::to_string(threads) + (threads == 1 ? " thread)" : " threads)");
  }
  return device.str();
}

}  // namespace ddpm
