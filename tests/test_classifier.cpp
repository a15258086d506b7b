// Classifier-based scores on a toy TorchScript classifier made here: features (mean, mean square)
// of the image, logits that say "class 1" for bright images and "class 0" for dark ones.
#include <gtest/gtest.h>
#include <torch/script.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "ddpm/classifier.h"
#include "test_util.h"

namespace ddpm {
namespace {

using test::error_of;
using test::TempDir;

// The toy classifier; with `record`, stored as its training record, as scripts/*_classifier.py
// store theirs.
std::string write_toy_classifier(const TempDir& dir, const std::string& record = "") {
  torch::jit::Module m("ToyClassifier");
  m.define(R"(
def forward(self, x):
    m = x.mean(dim=[1, 2, 3])
    f = torch.stack([m, (x * x).mean(dim=[1, 2, 3])], 1)
    return f, torch.stack([-m, m], 1) * 10.0
)");
  const std::string path = dir / (record.empty() ? "toy.pt" : "toy_recorded.pt");
  torch::jit::ExtraFilesMap extra;
  if (!record.empty()) extra[kClassifierRecord] = record;
  m.save(path, extra);
  return path;
}

constexpr const char* kRecord =
    R"({"script": "scripts/fashion_classifier.py", "flip": false, "epochs": 4, )"
    R"("accuracy": 0.931})";

// The training record a classifier carries: read back compact, described in one line; a module
// without one has none; one that is not a JSON object is a one-line error naming the file.
TEST(Classifier, TheTrainingRecordIsReadAndChecked) {
  TempDir dir;
  const Classifier recorded(write_toy_classifier(dir, kRecord), torch::kCPU);
  EXPECT_EQ(recorded.record(), nlohmann::json::parse(kRecord).dump());
  EXPECT_EQ(describe_classifier_record(recorded.record()),
            "scripts/fashion_classifier.py, without flips, 4 epochs, accuracy 0.9310");
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

// ddpm eval --classifier on a class-conditional model trained for a few steps: the report has the
// three scores.
TEST(Classifier, EvalReportsClassifierScoresThroughTheBinary) {
  TempDir dir;
  test::make_class_folders(dir / "classes", 16, {"0_a", "1_b"});
  auto train = test::run_ddpm(test::tiny_train_args(
      dir / "run", dir / "classes",
      "--set train.steps=2 --set train.batch_size=4 --set model.num_classes=2"));
  ASSERT_EQ(train.exit_code, 0) << train.err;
  // The toy classifier sees 3 channels here; it averages over them.
  auto r =
      test::run_ddpm("eval --threads 1 --ckpt '" + (dir / "run/last.pt") + "' --data '" +
                     (dir / "classes") + "' --classifier '" + write_toy_classifier(dir) +
                     "' --n 4 --sampler ddim --steps 3 --report '" + (dir / "eval.json") + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("clf FID"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("class acc"), std::string::npos) << r.out;
  const std::string report = test::read_file(dir / "eval.json");
  for (const char* key :
       {"\"fid_real_floor\"", "\"class_accuracy\"", "\"confidence\"", "\"guidance\""}) {
    EXPECT_NE(report.find(key), std::string::npos) << key;
  }
  // Two samples per class: the overall accuracy is the mean of the two per-class ones.
  const auto scores = nlohmann::json::parse(report)["classifier"];
  const auto& by_class = scores["class_accuracy_by_class"];
  ASSERT_TRUE(by_class.contains("0_a") && by_class.contains("1_b")) << report;
  EXPECT_NEAR(scores["class_accuracy"].get<double>(),
              (by_class["0_a"].get<double>() + by_class["1_b"].get<double>()) / 2, 1e-12);
  EXPECT_NE(r.out.find("  1_b: "), std::string::npos) << r.out;
  // A classifier without a training record gets a warning and a null record; one with a record
  // has it in the table and the report.
  EXPECT_NE(r.err.find("has no training record"), std::string::npos) << r.err;
  EXPECT_TRUE(nlohmann::json::parse(report)["classifier"]["record"].is_null()) << report;
  auto recorded =
      test::run_ddpm("eval --threads 1 --ckpt '" + (dir / "run/last.pt") + "' --data '" +
                     (dir / "classes") + "' --classifier '" + write_toy_classifier(dir, kRecord) +
                     "' --n 4 --sampler ddim --steps 3 --report '" + (dir / "eval2.json") + "'");
  ASSERT_EQ(recorded.exit_code, 0) << recorded.err;
  EXPECT_EQ(recorded.err.find("has no training record"), std::string::npos) << recorded.err;
  EXPECT_NE(recorded.out.find("classifier  scripts/fashion_classifier.py, without flips"),
            std::string::npos)
      << recorded.out;
  const auto saved = nlohmann::json::parse(test::read_file(dir / "eval2.json"));
  EXPECT_EQ(saved["classifier"]["record"]["epochs"], 4) << saved.dump();
}

// train.classifier_every: the run scores its EMA samples while it trains, into metrics.jsonl and
// the log; a missing classifier, held-out folder or too few held-out images are config errors.
TEST(Classifier, TrainingLogsClassifierScoresEveryNSteps) {
  TempDir dir;
  test::make_class_folders(dir / "classes", 16, {"0_a", "1_b"});
  const std::string common =
      "--set train.steps=4 --set train.batch_size=4 --set model.num_classes=2 "
      "--set sample.sampler=ddim --set sample.steps=3 --set data.heldout_path='" +
      (dir / "classes") + "' --set train.classifier_n=4 ";
  auto r = test::run_ddpm(
      test::tiny_train_args(dir / "run", dir / "classes",
                            common + "--set train.classifier_every=2 --set train.classifier='" +
                                write_toy_classifier(dir) + "'"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("classifier at step 2: FID "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("classifier at step 4: FID "), std::string::npos) << r.err;
  int rows = 0;
  std::istringstream metrics(test::read_file(dir / "run/metrics.jsonl"));
  for (std::string line; std::getline(metrics, line);) {
    if (line.find("\"fid_floor\"") == std::string::npos) continue;
    ++rows;
    for (const char* key : {"\"fid\"", "\"accuracy\"", "\"real_accuracy\"", "\"confidence\""}) {
      EXPECT_NE(line.find(key), std::string::npos) << key << " in " << line;
    }
  }
  EXPECT_EQ(rows, 2);

  test::expect_one_line_error(
      test::run_ddpm(test::tiny_train_args(dir / "a", dir / "classes",
                                           common + "--set train.classifier_every=2")),
      "train.classifier = \"\": needs a TorchScript classifier file", "no classifier");
  test::expect_one_line_error(test::run_ddpm(test::tiny_train_args(
                                  dir / "b", dir / "classes",
                                  common +
                                      "--set train.classifier_every=2 --set train.classifier_n=10 "
                                      "--set train.classifier='" +
                                      write_toy_classifier(dir) + "'")),
                              "train.classifier_n = 10 needs 20 held-out images",
                              "too few held-out images");
  test::expect_one_line_error(
      test::run_ddpm(
          test::tiny_train_args(dir / "c", dir / "classes",
                                common + "--set train.classifier_every=2 --set train.classifier='" +
                                    (dir / "none.pt") + "'")),
      "none.pt", "missing classifier file");
}

}  // namespace
}  // namespace ddpm
