#include "ddpm/distributed/gradient_sync.h"

#include "ddpm/base/error.h"

namespace ddpm {

GradientSync::GradientSync(const std::vector<torch::Tensor>& parameters, Communicator& comm)
    : comm_(comm) {
  for (const auto& p : parameters) numel_ += p.numel();
  if (parameters.empty()) throw Error("distributed training: the model has no parameters");
  buffer_ = torch::zeros({numel_ + 2}, parameters.front().options().dtype(torch::kFloat32));
  int64_t offset = 0;
  for (auto p : parameters) {
    p.mutable_grad() = buffer_.narrow(0, offset, p.numel()).view(p.sizes());
    offset += p.numel();
  }
}

AgreedStep GradientSync::average(const torch::Tensor& local_loss, bool stop_requested) {
  {
    torch::NoGradGuard no_grad;
    buffer_[numel_].copy_(local_loss.detach().reshape({}));
    buffer_[numel_ + 1].fill_(stop_requested ? 1.0 : 0.0);
  }
  comm_.allreduce_sum(buffer_, "gradient allreduce");
  buffer_.div_(comm_.world());
  auto tail = buffer_.narrow(0, numel_, 2).cpu();
  return {tail[0].item<double>(), tail[1].item<double>() > 0.0};
}

void GradientSync::zero() { buffer_.zero_(); }

}  // namespace ddpm
