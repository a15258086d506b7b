#include "ddpm/evaluation/classifier.h"

#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/InferenceMode.h>
#include <torch/script.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "ddpm/base/error.h"
#include "ddpm/evaluation/metrics.h"
#include "ddpm/io/script_module.h"

namespace ddpm {

struct Classifier::Impl {
  torch::jit::Module module;
  torch::Device device = torch::kCPU;
  std::string path;
  std::string record;
};

namespace {

constexpr size_t kMaxRecordBytes = 64 * 1024;

// The module's training record as compact JSON: absent is empty; anything but a small JSON object
// is an error naming the file.
std::string checked_record(const std::string& text, const std::string& path) {
  if (text.empty()) return "";
  const std::string where = "classifier " + path + ": its " + kClassifierRecord;
  if (text.size() > kMaxRecordBytes) throw Error(where + " is larger than 64 KiB");
  const auto json = nlohmann::json::parse(text, nullptr, false);
  if (!json.is_object()) {
    throw Error(where + " is not a JSON object; rebuild the classifier with its script");
  }
  return json.dump();
}

}  // namespace

Classifier::Classifier(const std::string& path, torch::Device device)
    : impl_(std::make_unique<Impl>()) {
  torch::jit::ExtraFilesMap extra{{kClassifierRecord, ""}};
  impl_->module = load_script_module(
      path, device, "classifier",
      "scripts/quality/fashion_classifier.py makes one for Fashion-MNIST", &extra);
  impl_->device = device;
  impl_->path = path;
  impl_->record = checked_record(extra[kClassifierRecord], path);
}

Classifier::~Classifier() = default;

const std::string& Classifier::record() const { return impl_->record; }

std::string describe_classifier_record(const std::string& record) {
  if (record.empty()) return "";
  const auto json = nlohmann::json::parse(record, nullptr, false);
  std::vector<std::string> parts;
  if (json.contains("script") && json["script"].is_string())
    parts.push_back(json["script"].get<std::string>());
  if (json.contains("flip") && json["flip"].is_boolean())
    parts.push_back(json["flip"].get<bool>() ? "with flips" : "without flips");
  if (json.contains("epochs") && json["epochs"].is_number_integer()) {
    const int64_t epochs = json["epochs"].get<int64_t>();
    parts.push_back(std::to_string(epochs) + (epochs == 1 ? " epoch" : " epochs"));
  }
  if (json.contains("accuracy") && json["accuracy"].is_number()) {
    char text[32];
    std::snprintf(text, sizeof text, "accuracy %.4f", json["accuracy"].get<double>());
    parts.push_back(text);
  }
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

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

// Each real image's weight, so that every class gets the share it has among the samples: an image
// of class k weighs share_k / count_k. Classes the samples never ask for weigh 0.
torch::Tensor class_share_weights(const torch::Tensor& labels, const torch::Tensor& sample_labels) {
  auto real = labels.to(torch::kCPU, torch::kLong);
  auto asked = sample_labels.to(torch::kCPU, torch::kLong);
  const int64_t classes = std::max(real.max().item<int64_t>(), asked.max().item<int64_t>()) + 1;
  auto share = torch::bincount(asked, {}, classes).to(torch::kFloat64) / asked.size(0);
  auto count = torch::bincount(real, {}, classes).to(torch::kFloat64).clamp_min(1);
  auto weights = (share / count).index_select(0, real);
  if (weights.sum().item<double>() <= 0) {
    throw Error(
        "classifier scores: the real images have none of the classes the samples were asked for");
  }
  return weights;
}

// The weighted fraction of images whose predicted class is their label.
double agreement(const torch::Tensor& logits, const torch::Tensor& labels,
                 const torch::Tensor& weights) {
  auto right = (logits.argmax(1) == labels.to(torch::kCPU, torch::kLong)).to(torch::kFloat64);
  return ((right * weights).sum() / weights.sum()).item<double>();
}

// agreement per class of `labels`: entry k for the images labelled k (-1: none is).
std::vector<double> agreement_by_class(const torch::Tensor& logits, const torch::Tensor& labels) {
  auto y = labels.to(torch::kCPU, torch::kLong);
  const int64_t classes = y.max().item<int64_t>() + 1;
  auto right = (logits.argmax(1) == y).to(torch::kFloat64);
  auto hits = torch::zeros({classes}, torch::kFloat64).index_add_(0, y, right);
  auto counts = torch::bincount(y, {}, classes);
  std::vector<double> out(static_cast<size_t>(classes), -1.0);
  for (int64_t k = 0; k < classes; ++k) {
    const auto n = counts[k].item<int64_t>();
    if (n > 0) out[static_cast<size_t>(k)] = hits[k].item<double>() / static_cast<double>(n);
  }
  return out;
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
  // With labels on both sides, the real halves are weighted to the samples' class shares, so
  // that per-class samples of an uneven data set are not scored against its proportions.
  const bool matched = sample_labels.defined() && real_labels.defined();
  torch::Tensor held_labels, held_w, reference_w;
  if (real_labels.defined()) {
    auto labels = real_labels.to(torch::kCPU, torch::kLong).index_select(0, order);
    held_labels = labels.slice(0, 0, n);
    held_w = matched ? class_share_weights(held_labels, sample_labels)
                     : torch::ones({n}, torch::kFloat64);
    if (matched) reference_w = class_share_weights(labels.slice(0, n), sample_labels);
  }
  const auto reference_stats =
      matched ? feature_stats(reference.features, reference_w) : feature_stats(reference.features);
  ClassifierScores s;
  s.samples = n;
  s.fid = frechet_distance(feature_stats(fake.features), reference_stats);
  s.fid_floor = frechet_distance(
      matched ? feature_stats(held.features, held_w) : feature_stats(held.features),
      reference_stats);
  if (sample_labels.defined()) {
    s.accuracy = agreement(fake.logits, sample_labels, torch::ones({n}, torch::kFloat64));
    s.class_accuracy = agreement_by_class(fake.logits, sample_labels);
  }
  if (real_labels.defined()) s.real_accuracy = agreement(held.logits, held_labels, held_w);
  s.confidence = torch::softmax(fake.logits, 1).amax(1).to(torch::kFloat64).mean().item<double>();
  return s;
}

}  // namespace ddpm
