#include "ddpm/classifier.h"

#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/InferenceMode.h>
#include <torch/script.h>

#include "ddpm/error.h"
#include "ddpm/metrics.h"
#include "ddpm/script_module.h"

namespace ddpm {

struct Classifier::Impl {
  torch::jit::Module module;
  torch::Device device = torch::kCPU;
  std::string path;
};

Classifier::Classifier(const std::string& path, torch::Device device)
    : impl_(std::make_unique<Impl>()) {
  impl_->module = load_script_module(path, device, "classifier",
                                     "scripts/fashion_classifier.py makes one for Fashion-MNIST");
  impl_->device = device;
  impl_->path = path;
}

Classifier::~Classifier() = default;

Classifier::Output Classifier::run(const torch::Tensor& images, int64_t batch) {
  c10::InferenceMode inference;
  std::vector<torch::Tensor> features, logits;
  for (int64_t begin = 0; begin < images.size(0); begin += batch) {
    auto x = images.slice(0, begin, std::min(images.size(0), begin + batch))
                 .to(impl_->device, torch::kFloat32)
                 .clamp(-1, 1);
    torch::jit::IValue out;
    try {
      out = impl_->module.forward({x});
    } catch (const c10::Error& e) {
      throw Error("classifier " + impl_->path + ": failed on images of shape [N, " +
                  std::to_string(x.size(1)) + ", " + std::to_string(x.size(2)) + ", " +
                  std::to_string(x.size(3)) + "]: " + e.what_without_backtrace());
    }
    if (!out.isTuple() || out.toTuple()->elements().size() != 2 ||
        !out.toTuple()->elements()[0].isTensor() || !out.toTuple()->elements()[1].isTensor()) {
      throw Error("classifier " + impl_->path + ": forward must return (features, logits)");
    }
    auto f = out.toTuple()->elements()[0].toTensor();
    auto l = out.toTuple()->elements()[1].toTensor();
    if (f.dim() < 1 || l.dim() != 2 || f.size(0) != x.size(0) || l.size(0) != x.size(0)) {
      throw Error("classifier " + impl_->path + ": expected features [N, D] and logits [N, K]");
    }
    features.push_back(f.reshape({f.size(0), -1}).to(torch::kCPU, torch::kFloat64));
    logits.push_back(l.to(torch::kCPU, torch::kFloat32));
  }
  return {torch::cat(features), torch::cat(logits)};
}

namespace {
double agreement(const torch::Tensor& logits, const torch::Tensor& labels) {
  return (logits.argmax(1) == labels.to(torch::kCPU, torch::kLong))
      .to(torch::kFloat64)
      .mean()
      .item<double>();
}
}  // namespace

ClassifierScores classifier_scores(Classifier& classifier, const torch::Tensor& samples,
                                   const torch::Tensor& sample_labels, const torch::Tensor& real,
                                   const torch::Tensor& real_labels, int64_t batch) {
  const int64_t n = samples.size(0);
  if (n < 2 || real.size(0) < 2 * n) {
    throw Error("classifier scores: " + std::to_string(n) + " samples need at least " +
                std::to_string(2 * n) +
                " real images (half held out for the floor), the folder has " +
                std::to_string(real.size(0)));
  }
  // A fixed shuffle, so that the held-out half is not one class of a folder read class by class.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(0);
  auto order = torch::randperm(real.size(0), gen, torch::kLong);
  auto shuffled = real.index_select(0, order);
  auto fake = classifier.run(samples, batch);
  auto held = classifier.run(shuffled.slice(0, 0, n), batch);
  auto reference = classifier.run(shuffled.slice(0, n), batch);
  const auto reference_stats = feature_stats(reference.features);
  ClassifierScores s;
  s.samples = n;
  s.fid = frechet_distance(feature_stats(fake.features), reference_stats);
  s.fid_floor = frechet_distance(feature_stats(held.features), reference_stats);
  if (sample_labels.defined()) s.accuracy = agreement(fake.logits, sample_labels);
  if (real_labels.defined()) {
    s.real_accuracy = agreement(held.logits, real_labels.index_select(0, order).slice(0, 0, n));
  }
  s.confidence = torch::softmax(fake.logits, 1).amax(1).to(torch::kFloat64).mean().item<double>();
  return s;
}

}  // namespace ddpm
