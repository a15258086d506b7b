// Classifier-based scores on a toy TorchScript classifier made here: features (mean, mean square)
// of the image, logits that say "class 1" for bright images and "class 0" for dark ones.
#include <gtest/gtest.h>
#include <torch/script.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "ddpm/evaluation/classifier.h"
#include "fixtures.h"
#include "test_util.h"

namespace ddpm {
namespace {

using test::write_toy_classifier;

using test::error_of;
using test::TempDir;

// The training record a classifier carries: read back compact, described in one line; a module
// without one has none; one that is not a JSON object is a one-line error naming the file.
TEST(Classifier, TheTrainingRecordIsReadAndChecked) {
  TempDir dir;
  const Classifier recorded(write_toy_classifier(dir, test::kToyClassifierRecord), torch::kCPU);
  EXPECT_EQ(recorded.record(), nlohmann::json::parse(test::kToyClassifierRecord).dump());
  EXPECT_EQ(describe_classifier_record(recorded.record()),
            "scripts/quality/fashion_classifier.py, without flips, 4 epochs, accuracy 0.9310");
  EXPECT_EQ(describe_classifier_record(R"({"flip": true, "epochs": "many"})"), "with flips");
  EXPECT_EQ(describe_classifier_record(R"({"epochs": 1})"), "1 epoch");
  EXPECT_EQ(Classifier(write_toy_classifier(dir), torch::kCPU).record(), "");
  for (const char* bad : {"[1, 2]", "{\"flip\": ", "7"}) {
    const std::string path = write_toy_classifier(dir, bad);
    const std::string message = error_of([&] { Classifier(path, torch::kCPU); });
    EXPECT_EQ(message, "classifier " + path +
                           ": its ddpm_classifier.json is not a JSON object; rebuild the "
                           "classifier with its script")
        << bad;
  }
}

// n images of constant values (one per image), [n, 1, 4, 4].
torch::Tensor constant_images(const std::vector<double>& values) {
  auto v = torch::tensor(values, torch::kFloat32).view({-1, 1, 1, 1});
  return v.expand({static_cast<int64_t>(values.size()), 1, 4, 4}).contiguous();
}

TEST(Classifier, AccuracyIsExactOnLabelledInputs) {
  TempDir dir;
  Classifier c(write_toy_classifier(dir), torch::kCPU);
  auto samples = constant_images({-0.5, 0.5, 0.5, -0.5});
  auto real = constant_images(std::vector<double>(8, 0.5));
  auto right = classifier_scores(c, samples, torch::tensor({0, 1, 1, 0}), real,
                                 torch::ones({8}, torch::kLong), 2);
  EXPECT_DOUBLE_EQ(right.accuracy, 1.0);
  EXPECT_DOUBLE_EQ(right.real_accuracy, 1.0);
  auto half = classifier_scores(c, samples, torch::tensor({1, 1, 1, 1}), real, torch::Tensor(), 3);
  EXPECT_DOUBLE_EQ(half.accuracy, 0.5);
  EXPECT_DOUBLE_EQ(half.real_accuracy, -1.0);
  // Per class: right on both classes; nothing asked for class 0 in `half`, half right on class 1.
  EXPECT_EQ(right.class_accuracy, (std::vector<double>{1.0, 1.0}));
  EXPECT_EQ(half.class_accuracy, (std::vector<double>{-1.0, 0.5}));
  // Confidence: softmax of (−5, 5) → 1/(1 + e^−10) for every image.
  EXPECT_NEAR(right.confidence, 1.0 / (1.0 + std::exp(-10.0)), 1e-6);
}

TEST(Classifier, FidIsZeroOnIdenticalSetsAndTheClosedFormOnShiftedOnes) {
  TempDir dir;
  Classifier c(write_toy_classifier(dir), torch::kCPU);
  auto same = classifier_scores(c, constant_images({0.2, 0.2, 0.2}), torch::Tensor(),
                                constant_images(std::vector<double>(7, 0.2)), torch::Tensor(), 4);
  EXPECT_NEAR(same.fid, 0.0, 1e-9);
  EXPECT_NEAR(same.fid_floor, 0.0, 1e-9);
  EXPECT_DOUBLE_EQ(same.accuracy, -1.0);
  // Point masses at features (a, a²) and (b, b²): FID = (a − b)² + (a² − b²)².
  auto shifted =
      classifier_scores(c, constant_images({0.6, 0.6, 0.6}), torch::Tensor(),
                        constant_images(std::vector<double>(7, 0.2)), torch::Tensor(), 4);
  EXPECT_NEAR(shifted.fid, 0.16 + 0.32 * 0.32, 1e-6);
}

TEST(Classifier, RealImagesAreWeightedToTheSamplesClassShares) {
  TempDir dir;
  Classifier c(write_toy_classifier(dir), torch::kCPU);
  // Samples: half dark (class 0), half bright (class 1). Real: 3 dark of class 0, 5 bright of
  // class 1 and 4 bright of class 2, a class the samples never ask for and the toy classifier never
  // predicts.
  auto samples = constant_images({-0.5, -0.5, 0.5, 0.5});
  auto asked = torch::tensor({0, 0, 1, 1});
  std::vector<double> values(3, -0.5);
  values.insert(values.end(), 9, 0.5);
  auto real = constant_images(values);
  auto labels = torch::tensor({0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2});
  auto matched = classifier_scores(c, samples, asked, real, labels, 4);
  // The weighted reference has the samples' mean (0, 0.25) exactly; only the variance of the
  // feature m differs: 1/3 for the samples, 0.25/(1 − Σw²) for the reference, which for any split
  // of 8 reference images (1 to 3 dark ones) leaves FID = (√(1/3) − √var)² below 0.002.
  EXPECT_LT(matched.fid, 0.002);
  // Class 2 weighs nothing, so the held-out real images are all classified right.
  EXPECT_DOUBLE_EQ(matched.real_accuracy, 1.0);
  EXPECT_DOUBLE_EQ(matched.accuracy, 1.0);
  // Unweighted (no real labels), the reference's mean of m is at least (−3·0.5 + 5·0.5)/8 away.
  auto unmatched = classifier_scores(c, samples, asked, real, torch::Tensor(), 4);
  EXPECT_GT(unmatched.fid, 0.125 * 0.125);
  // No real image of a class the samples ask for: a clear error.
  auto err = error_of(
      [&] { classifier_scores(c, samples, torch::full({4}, 3, torch::kLong), real, labels, 4); });
  EXPECT_NE(err.find("none of the classes"), std::string::npos) << err;
}

TEST(Classifier, BadFilesAndOutputsGetClearErrors) {
  TempDir dir;
  EXPECT_NE(error_of([&] { Classifier(dir / "none.pt", torch::kCPU); }).find("file not found"),
            std::string::npos);
  test::write_file(dir / "junk.pt", "not a module");
  EXPECT_NE(error_of([&] {
              Classifier(dir / "junk.pt", torch::kCPU);
            }).find("not a loadable TorchScript"),
            std::string::npos);
  torch::jit::Module m("OneOutput");
  m.define("def forward(self, x):\n    return x.mean(dim=[1, 2, 3])\n");
  m.save(dir / "one.pt");
  Classifier one(dir / "one.pt", torch::kCPU);
  EXPECT_NE(
      error_of([&] { one.run(constant_images({0.1}), 1); }).find("must return (features, logits)"),
      std::string::npos);
  Classifier toy(write_toy_classifier(dir), torch::kCPU);
  EXPECT_NE(error_of([&] {
              classifier_scores(toy, constant_images({0.1, 0.2, 0.3}), torch::Tensor(),
                                constant_images({0.1, 0.2}), torch::Tensor(), 2);
            }).find("need at least 6 real images"),
            std::string::npos);
}

}  // namespace
}  // namespace ddpm
