// Fine-tuning (`ddpm train --init`): a new run starts from another run's weights, through the
// binary: the weights arrive exactly, a model of another architecture is refused naming the first
// tensor that differs, another set of classes re-initialises only the class embedding, and a
// fine-tuned model starts where its source ended instead of from noise.
#include <gtest/gtest.h>

#include <map>

#include "ddpm/io/checkpoint.h"
#include "ddpm/io/safetensors.h"
#include "ddpm/model/unet.h"
#include "test_util.h"

namespace ddpm {
namespace {

using test::run_ddpm;

// The `part` weights of a checkpoint, by name.
std::map<std::string, torch::Tensor> weights(const std::string& path, const std::string& part) {
  const Checkpoint checkpoint = Checkpoint::open(path);
  UNet model(checkpoint.meta().config.model);
  checkpoint.load_module(part, *model, torch::kCPU);
  return module_tensors(*model);
}

// Names whose tensors differ between two weight sets of the same names.
std::vector<std::string> differing(const std::map<std::string, torch::Tensor>& a,
                                   const std::map<std::string, torch::Tensor>& b) {
  std::vector<std::string> names;
  for (const auto& [name, t] : a) {
    if (!b.count(name) || !torch::equal(t, b.at(name))) names.push_back(name);
  }
  return names;
}

class FineTune : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir;
    test::make_emoji_folder(*dir_ / "emoji", 16);
    test::make_class_folders(*dir_ / "two", 16, {"0_a", "1_b"});
    test::make_class_folders(*dir_ / "three", 18, {"0_a", "1_b", "2_c"});
    for (const auto& [run, data, extra] :
         {std::tuple<std::string, std::string, std::string>{"source", "emoji", ""},
          {"source2", "two", " --set model.num_classes=2"}}) {
      auto r = run_ddpm(test::tiny_train_args(
          *dir_ / run, *dir_ / data,
          "--set train.steps=60 --set train.batch_size=8 --set train.log_every=5" + extra));
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
  }
  static void TearDownTestSuite() { delete dir_; }
  // `ddpm train --init` into a new run folder; steps 0 writes the starting point as last.pt.
  static test::CommandResult fine_tune(const std::string& run, const std::string& data,
                                       const std::string& init, const std::string& extra) {
    return run_ddpm(
        test::tiny_train_args(*dir_ / run, *dir_ / data,
                              "--set train.batch_size=8 --set train.log_every=5 " + extra) +
        " --init '" + init + "'");
  }
  static test::TempDir* dir_;
};
test::TempDir* FineTune::dir_ = nullptr;

TEST_F(FineTune, TheNewRunStartsAtStepZeroFromTheSourceWeights) {
  const std::string source = *dir_ / "source/last.pt";
  auto r = fine_tune("from_ema", "emoji", source, "--set train.steps=0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("initialised from " + source + " (EMA weights of step 60)"),
            std::string::npos)
      << r.err;
  const std::string start = *dir_ / "from_ema/last.pt";
  EXPECT_EQ(Checkpoint::open(start).meta().step, 0);
  EXPECT_TRUE(differing(weights(start, "model"), weights(source, "ema")).empty());
  EXPECT_TRUE(differing(weights(start, "ema"), weights(source, "ema")).empty());
  // --init-weights raw takes the training weights; a safetensors export works as well.
  r = fine_tune("from_raw", "emoji", source, "--set train.steps=0 --init-weights raw");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(
      differing(weights(*dir_ / "from_raw/last.pt", "model"), weights(source, "model")).empty());
  ASSERT_EQ(run_ddpm("export --ckpt '" + source + "' --out '" + (*dir_ / "s.safetensors") + "'")
                .exit_code,
            0);
  r = fine_tune("from_st", "emoji", *dir_ / "s.safetensors", "--set train.steps=0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(
      differing(weights(*dir_ / "from_st/last.pt", "model"), weights(source, "ema")).empty());
}

TEST_F(FineTune, AnotherSetOfClassesReinitialisesOnlyTheClassEmbedding) {
  const std::string source = *dir_ / "source2/last.pt";
  auto r = fine_tune("three", "three", source, "--set train.steps=0 --set model.num_classes=3");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("the class embedding starts afresh: this run's 3 classes are not the "
                       "source's 2"),
            std::string::npos)
      << r.err;
  auto started = weights(*dir_ / "three/last.pt", "model");
  const auto from = weights(source, "ema");
  EXPECT_EQ(started.at("class_embed.weight").size(0), 4);  // 3 classes and the null class
  started.erase("class_embed.weight");
  auto others = from;
  others.erase("class_embed.weight");
  EXPECT_TRUE(differing(started, others).empty());
  // The same classes keep their embedding.
  r = fine_tune("same", "two", source, "--set train.steps=0 --set model.num_classes=2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("starts afresh"), std::string::npos) << r.err;
  EXPECT_TRUE(differing(weights(*dir_ / "same/last.pt", "model"), from).empty());
}

TEST_F(FineTune, BadSourcesAndFlagsAreOneLineErrors) {
  const std::string source = *dir_ / "source/last.pt";
  test::expect_one_line_error(
      fine_tune("wide", "emoji", source, "--set train.steps=0 --set model.base_channels=32"),
      "--init " + source +
          ": tensor conv_in.bias has shape [16], the model needs [32]; --init needs a model of "
          "the same architecture",
      "another width");
  test::expect_one_line_error(fine_tune("none", "emoji", *dir_ / "missing.pt", ""), "missing.pt",
                              "a missing file");
  test::expect_one_line_error(fine_tune("raw2", "emoji", source, "--init-weights best"),
                              "--init-weights best: expected ema or raw", "a bad weights flag");
  test::expect_one_line_error(run_ddpm(test::tiny_train_args(*dir_ / "source", *dir_ / "emoji") +
                                       " --resume --init '" + source + "'"),
                              "--init and --resume exclude each other", "both");
}

// Fine-tuned on its own data from its training weights, a model's loss starts where the source's
// ended; from scratch the same run starts far above it. (Its EMA weights, the default, lag behind
// so short a run.)
TEST_F(FineTune, AFineTunedRunStartsWhereItsSourceEnded) {
  const std::string source = *dir_ / "source/last.pt";
  ASSERT_EQ(fine_tune("tuned", "emoji", source, "--set train.steps=5 --init-weights raw").exit_code,
            0);
  ASSERT_EQ(run_ddpm(test::tiny_train_args(*dir_ / "scratch", *dir_ / "emoji",
                                           "--set train.batch_size=8 --set train.log_every=5 "
                                           "--set train.steps=5"))
                .exit_code,
            0);
  const auto source_loss = test::metric_values(*dir_ / "source", "loss");
  const double tuned = test::metric_values(*dir_ / "tuned", "loss").at(0);
  const double scratch = test::metric_values(*dir_ / "scratch", "loss").at(0);
  EXPECT_LT(tuned, 0.7 * scratch) << "tuned " << tuned << ", scratch " << scratch;
  EXPECT_LT(tuned, 2.0 * source_loss.back()) << "tuned " << tuned;
}

}  // namespace
}  // namespace ddpm
