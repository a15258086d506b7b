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

using test::TempDir;

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
  auto recorded = test::run_ddpm(
      "eval --threads 1 --ckpt '" + (dir / "run/last.pt") + "' --data '" + (dir / "classes") +
      "' --classifier '" + write_toy_classifier(dir, test::kToyClassifierRecord) +
      "' --n 4 --sampler ddim --steps 3 --report '" + (dir / "eval2.json") + "'");
  ASSERT_EQ(recorded.exit_code, 0) << recorded.err;
  EXPECT_EQ(recorded.err.find("has no training record"), std::string::npos) << recorded.err;
  EXPECT_NE(recorded.out.find("classifier  scripts/quality/fashion_classifier.py, without flips"),
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
