#include "ddpm/data/dataset.h"

namespace ddpm {

torch::Tensor to_model_range(const torch::Tensor& images) {
  return images.to(torch::kFloat32, /*non_blocking=*/false, /*copy=*/true).div_(127.5).sub_(1.0);
}

}  // namespace ddpm
