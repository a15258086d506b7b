// Sample-quality scores from a classifier of the data set (e.g.
// scripts/quality/fashion_classifier.py's): FID in the classifier's feature space ("classifier
// FID") with the real-vs-real floor, the fraction of samples classified as the class asked for, and
// the classifier's mean confidence.
#pragma once
#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

namespace ddpm {

inline constexpr const char* kClassifierRecord = "ddpm_classifier.json";

// A TorchScript module: forward(x [N, C, H, W] in [-1, 1]) → (features [N, D], logits [N, K]).
class Classifier {
 public:
  Classifier(const std::string& path, torch::Device device);
  ~Classifier();
  struct Output {
    torch::Tensor features;  // [N, D] float64, CPU
    torch::Tensor logits;    // [N, K] float32, CPU
  };
  Output run(const torch::Tensor& images, int64_t batch);
  // How it was trained: the JSON object that scripts/*_classifier.py store in the module as the
  // extra file kClassifierRecord (script, data, flip, epochs, accuracy), compact; empty for a
  // module without one (made before 2026-11-24, or by another tool).
  const std::string& record() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One line for people: "scripts/quality/fashion_classifier.py, without flips, 4 epochs, accuracy
// 0.9310" from a record; the fields it lacks are left out.
std::string describe_classifier_record(const std::string& record);

struct ClassifierScores {
  int64_t samples = 0;
  double fid = 0;        // samples against the reference real images
  double fid_floor = 0;  // as many held-out real images against the same reference
  double accuracy = -1;  // samples classified as their requested class (-1: none requested)
  std::vector<double> class_accuracy;  // the same per requested class k (-1: none asked for k)
  double real_accuracy = -1;  // the held-out real images, against their labels (class-weighted)
  double confidence = 0;      // mean max softmax probability on the samples
};

// samples [N, C, H, W] with the classes they were asked for (undefined: unconditional); real images
// [M, C, H, W] (M ≥ 2N) with their labels: after a fixed shuffle the first N are held out for the
// floor, the rest are the reference. With labels on both sides, the real images are weighted so
// that each class has its share among the samples (per-class samples of an uneven data set such as
// the emoji groups), in the FID, its floor and the real accuracy.
ClassifierScores classifier_scores(Classifier& classifier, const torch::Tensor& samples,
                                   const torch::Tensor& sample_labels, const torch::Tensor& real,
                                   const torch::Tensor& real_labels, int64_t batch);

}  // namespace ddpm
