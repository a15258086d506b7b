// Editing on a model the binary trains, on data with a known answer (tests/support/
// trained_templates.h: three flat colour templates in proportions 0.2 / 0.3 / 0.5): inpainting
// completes the template it is given with every sampler, image-to-image keeps the input at low
// strength and forgets it at strength 1, inversion gives the input back, and fine-tuning learns a
// new template in fewer steps than training from nothing.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <iostream>

#include "ddpm/inference/generate.h"
#include "ddpm/inference/invert.h"
#include "ddpm/io/checkpoint.h"
#include "ddpm/model/unet.h"
#include "ddpm/sampling/editing.h"
#include "test_util.h"
#include "trained_templates.h"

namespace ddpm {
namespace {

using test::template_tensor;

struct Loaded {
  Config config;
  UNet model;
  GaussianDiffusion diffusion;
};

Loaded load(const std::string& path) {
  Checkpoint ckpt = Checkpoint::open(path);
  Loaded m{ckpt.meta().config, UNet(ckpt.meta().config.model),
           GaussianDiffusion(ckpt.meta().config.diffusion)};
  ckpt.load_module("ema", *m.model, torch::kCPU);
  return m;
}

GenerateOptions options(const std::string& sampler, int64_t n) {
  GenerateOptions g;
  g.n = n;
  g.batch = n;
  g.seed = 2000;
  g.sampler.sampler = parse_choice<Sampler>(sampler, "sampler");
  return g;
}

// `per_template` copies of each template [3·per_template, C, H, W], and which template each is.
std::pair<torch::Tensor, torch::Tensor> template_inputs(int64_t per_template) {
  auto inputs = template_tensor().repeat_interleave(per_template, 0);
  auto which = torch::arange(3).repeat_interleave(per_template);
  return {inputs, which};
}

// Mean absolute error of each image to each template [n, 3] over the columns [from, to).
torch::Tensor template_error(const torch::Tensor& x, int64_t from, int64_t to) {
  auto a = x.slice(3, from, to).unsqueeze(1), b = template_tensor().slice(3, from, to).unsqueeze(0);
  return (a - b).abs().flatten(2).mean(2);
}

class TrainedEditing : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { m_ = new Loaded(load(test::trained_template_checkpoint())); }
  static void TearDownTestSuite() { delete m_; }
  static Loaded* m_;
};
Loaded* TrainedEditing::m_ = nullptr;

TEST_F(TrainedEditing, InpaintingCompletesTheTemplateWithEverySamplerAndKeepsTheKeptHalfExactly) {
  auto [inputs, which] = template_inputs(10);
  const int64_t n = inputs.size(0), half = test::kTemplateSide / 2;
  auto keep = torch::zeros({n, 1, test::kTemplateSide, test::kTemplateSide}, torch::kBool);
  keep.slice(3, 0, half).fill_(true);  // the left half is known, the right half regenerated
  for (const char* sampler : {"ddpm", "ddim", "dpmpp2m", "heun"}) {
    SCOPED_TRACE(sampler);
    auto g = options(sampler, n);
    g.init = inputs;
    g.keep = keep;
    g.sampler.resample_jumps = inpainting_resampling(g.sampler.sampler).jumps;
    g.sampler.resample_length = inpainting_resampling(g.sampler.sampler).length;
    auto x = generate(m_->model, m_->diffusion, g);
    EXPECT_TRUE(torch::equal(x.slice(3, 0, half), inputs.slice(3, 0, half)));
    auto error = template_error(x, half, test::kTemplateSide);
    auto own = error.gather(1, which.unsqueeze(1)).squeeze(1);
    const double completed = (own < 0.1).to(torch::kFloat64).mean().item<double>();
    std::cout << sampler << ": " << completed << " of the inpainted halves are their template\n";
    EXPECT_GE(completed, 0.9) << "median error " << own.median().item<double>();
  }
}

TEST_F(TrainedEditing, ImageToImageKeepsTheTemplateAtLowStrengthAndForgetsItAtStrengthOne) {
  auto [inputs, which] = template_inputs(10);
  auto g = options("ddim", inputs.size(0));
  g.init = inputs;
  g.strength = 0.3;
  auto [_, nearest] = template_error(generate(m_->model, m_->diffusion, g), 0, 8).min(1);
  EXPECT_GE((nearest == which).to(torch::kFloat64).mean().item<double>(), 0.95);
  // From strength 1 every output is a fresh draw: 200 copies of the rarest template come out in
  // the data's proportions, and exactly as sampling without inputs draws them.
  constexpr int64_t n = 200;
  auto plain = options("ddim", n);
  auto edited = plain;
  edited.init = template_tensor().slice(0, 0, 1).expand({n, 3, 8, 8}).contiguous();
  edited.strength = 1.0;
  auto x = generate(m_->model, m_->diffusion, edited);
  EXPECT_TRUE(torch::equal(x, generate(m_->model, m_->diffusion, plain)));
  auto [err, chosen] = template_error(x, 0, 8).min(1);
  for (int64_t c = 0; c < 3; ++c) {
    const double p = test::kTemplateCounts[c] / 100.0;
    const double seen = (chosen == c).to(torch::kFloat64).mean().item<double>();
    EXPECT_NEAR(seen, p, 3.5 * std::sqrt(p * (1 - p) / n)) << "template " << c;
  }
}

TEST_F(TrainedEditing, InversionThenGenerationReconstructsTheInput) {
  auto [inputs, which] = template_inputs(4);
  auto g = options("ddim", inputs.size(0));
  double mean_db[2] = {0, 0};
  for (int64_t refine : {0, 2}) {
    g.latents = invert(m_->model, m_->diffusion, g, inputs, refine);
    auto db = psnr(inputs, generate(m_->model, m_->diffusion, g));
    for (double v : db) mean_db[refine / 2] += v / static_cast<double>(db.size());
    std::cout << "refine " << refine << ": mean reconstruction PSNR " << mean_db[refine / 2]
              << " dB\n";
  }
  // Measured: 42.9 dB plain, 54.7 dB with two fixed-point iterations per step.
  EXPECT_GE(mean_db[0], 38.0);
  EXPECT_GE(mean_db[1], mean_db[0] + 5.0);
}

// Fine-tuned from the template model (`ddpm train --init`), a run on a fourth template draws it
// after a few steps; a run from scratch with as many steps does not yet.
TEST(TrainedFineTuning, AFineTunedModelLearnsANewTemplateInFewerStepsThanOneFromScratch) {
  test::TempDir dir;
  const std::array<uint8_t, 3> yellow = {220, 200, 40};
  std::filesystem::create_directories(dir / "new");
  for (int i = 0; i < 50; ++i)
    test::write_flat_png(dir / ("new/y" + std::to_string(i) + ".png"), yellow);
  const std::string source = test::trained_template_checkpoint();
  constexpr int64_t kSteps = 75;
  double drawn[2] = {0, 0};
  for (int from_source : {0, 1}) {
    const std::string run = dir / (from_source ? "finetuned" : "scratch");
    auto result = test::run_ddpm("train " + test::template_train_args(run, dir / "new", kSteps) +
                                 (from_source ? " --init '" + source + "'" : ""));
    ASSERT_EQ(result.exit_code, 0) << result.err;
    Loaded m = load(run + "/last.pt");
    auto g = options("ddim", 50);
    g.sampler.steps = 20;
    auto x = generate(m.model, m.diffusion, g);
    auto error = (x - test::flat_tensor(yellow).unsqueeze(0)).abs().flatten(1).mean(1);
    drawn[from_source] = (error < 0.1).to(torch::kFloat64).mean().item<double>();
    std::cout << (from_source ? "fine-tuned" : "from scratch") << ", " << kSteps
              << " steps: " << drawn[from_source] << " of the samples are the new template\n";
  }
  EXPECT_GE(drawn[1], 0.9);
  EXPECT_LE(drawn[0], drawn[1] - 0.5);
}

}  // namespace
}  // namespace ddpm
