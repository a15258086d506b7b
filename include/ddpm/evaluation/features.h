// A feature network for FID/KID, loaded from a TorchScript file (e.g. the Inception-v3 of clean-fid
// or StyleGAN's metrics). Its forward takes float images [N, 3, H, W] with values in [0, 255].
#pragma once
#include <torch/types.h>

#include <memory>
#include <string>

namespace ddpm {

class FeatureNetwork {
 public:
  // `input_size` > 0 resizes images (bilinear) to that square size first; 0 passes them as they
  // are.
  FeatureNetwork(const std::string& path, torch::Device device, int64_t input_size);
  ~FeatureNetwork();
  // images: [N, C, H, W] in [-1, 1] (grey is repeated to 3 channels) → features [N, D] (float64,
  // CPU).
  torch::Tensor features(const torch::Tensor& images, int64_t batch);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ddpm
