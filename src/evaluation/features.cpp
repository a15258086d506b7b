#include "ddpm/evaluation/features.h"

#include <c10/core/InferenceMode.h>
#include <torch/script.h>

#include "ddpm/base/error.h"
#include "ddpm/io/script_module.h"

namespace ddpm {

struct FeatureNetwork::Impl {
  torch::jit::Module module;
  torch::Device device = torch::kCPU;
  int64_t input_size = 0;
};

FeatureNetwork::FeatureNetwork(const std::string& path, torch::Device device, int64_t input_size)
    : impl_(std::make_unique<Impl>()) {
  impl_->module =
      load_script_module(path, device, "feature network",
                         "FID/KID need a TorchScript feature network such as the Inception-v3 "
                         "'inception-2015-12-05.pt' used by clean-fid and StyleGAN's metrics");
  impl_->device = device;
  impl_->input_size = input_size;
}

FeatureNetwork::~FeatureNetwork() = default;

torch::Tensor FeatureNetwork::features(const torch::Tensor& images, int64_t batch) {
  c10::InferenceMode inference;
  std::vector<torch::Tensor> out;
  for (int64_t begin = 0; begin < images.size(0); begin += batch) {
    auto x = images.slice(0, begin, std::min(images.size(0), begin + batch))
                 .to(impl_->device, torch::kFloat32);
    if (x.size(1) == 1) x = x.repeat({1, 3, 1, 1});
    x = (x.clamp(-1, 1) + 1) * 127.5;  // [N, 3, H, W] in [0, 255]
    if (impl_->input_size > 0 &&
        (x.size(2) != impl_->input_size || x.size(3) != impl_->input_size)) {
      namespace F = torch::nn::functional;
      x = F::interpolate(x, F::InterpolateFuncOptions()
                                .size(std::vector<int64_t>{impl_->input_size, impl_->input_size})
                                .mode(torch::kBilinear)
                                .align_corners(false));
    }
    torch::Tensor f;
    try {
      f = impl_->module.forward({x}).toTensor();
    } catch (const c10::Error& e) {
      throw Error(std::string("the feature network failed on images of shape [N, 3, ") +
                  std::to_string(x.size(2)) + ", " + std::to_string(x.size(3)) +
                  "] (try --features-size): " + e.what_without_backtrace());
    }
    out.push_back(f.reshape({f.size(0), -1}).to(torch::kCPU, torch::kFloat64));  // [n, D]
  }
  return torch::cat(out);
}

}  // namespace ddpm
