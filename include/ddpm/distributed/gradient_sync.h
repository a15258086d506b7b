// Data-parallel gradient averaging: the model's gradients live as views into one flat buffer, which
// one allreduce per optimizer step averages over the workers. Two extra slots carry the step's loss
// and a stop request, so every worker takes the same skip, clip and stop decisions.
#pragma once
#include <torch/types.h>

#include <vector>

#include "ddpm/distributed/distributed.h"

namespace ddpm {

struct AgreedStep {
  double loss = 0.0;  // the mean over workers (NaN when any worker's was not finite)
  bool stop = false;  // some worker was asked to stop
};

class GradientSync {
 public:
  // Re-points the gradients of `parameters` into the flat buffer (zeroed), on their device.
  GradientSync(const std::vector<torch::Tensor>& parameters, Communicator& comm);
  // After the last micro-batch's backward: averages the gradients, the local loss and the stop
  // flags over all workers.
  AgreedStep average(const torch::Tensor& local_loss, bool stop_requested);
  // Zeroes the gradients in place (the views stay views; Optimizer::zero_grad would detach them in
  // LibTorch 1.13 and drop them in 2.x).
  void zero();

 private:
  Communicator& comm_;
  torch::Tensor buffer_;  // [P + 2]: gradients, loss, stop flag
  int64_t numel_ = 0;
};

}  // namespace ddpm
