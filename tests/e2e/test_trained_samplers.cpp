// Every sampler on a model the binary trains in the test, on data with a known answer: three flat
// colour templates in proportions 0.2 / 0.3 / 0.5. Oracle tests cannot see a sampler that amplifies
// a real model's error; this one does (DDIM from the cosine schedule's last step turned it into
// saturated colour speckle).
#include <gtest/gtest.h>

#include <cmath>

#include "ddpm/data/image_io.h"
#include "ddpm/inference/generate.h"
#include "ddpm/io/checkpoint.h"
#include "ddpm/model/unet.h"
#include "test_util.h"
#include "trained_templates.h"

namespace ddpm {
namespace {

using test::kTemplateCounts;
using test::template_tensor;

class TrainedSamplers : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ckpt_ = new std::string(test::trained_template_checkpoint()); }
  static void TearDownTestSuite() { delete ckpt_; }

  // n samples from the EMA weights with the given sampler.
  static torch::Tensor sample(const std::string& sampler, int64_t n) {
    Checkpoint ckpt = Checkpoint::open(*ckpt_);
    const Config& config = ckpt.meta().config;
    UNet model(config.model);
    ckpt.load_module("ema", *model, torch::kCPU);
    GaussianDiffusion diffusion(config.diffusion);
    GenerateOptions g;
    g.n = n;
    g.batch = n;
    g.seed = 1000;
    g.sampler.sampler = parse_choice<Sampler>(sampler, "sampler");
    return generate(model, diffusion, g);
  }

  static std::string* ckpt_;
};
std::string* TrainedSamplers::ckpt_ = nullptr;

TEST_F(TrainedSamplers, EverySamplerDrawsTheTemplatesInTheirProportions) {
  constexpr int64_t n = 200;
  const auto templates = template_tensor();
  for (const char* sampler : {"ddpm", "ddim", "dpmpp2m", "heun"}) {
    SCOPED_TRACE(sampler);
    auto x = sample(sampler, n);  // [n, 3, 8, 8]
    // Mean absolute pixel error to each template [n, 3], and the nearest one.
    auto error = (x.unsqueeze(1) - templates.unsqueeze(0)).abs().flatten(2).mean(2);
    auto [nearest_error, nearest] = error.min(1);
    // Most samples are a clean template: within 0.1 (5% of the [-1, 1] range) of one.
    const double clean = (nearest_error < 0.1).to(torch::kFloat64).mean().item<double>();
    EXPECT_GE(clean, 0.95) << "median error " << nearest_error.median().item<double>();
    // Proportions within 3.5 binomial standard errors of the data's (0.2: ±0.099, 0.5: ±0.124).
    for (int64_t c = 0; c < 3; ++c) {
      const double p = kTemplateCounts[c] / 100.0;
      const double seen = (nearest == c).to(torch::kFloat64).mean().item<double>();
      EXPECT_NEAR(seen, p, 3.5 * std::sqrt(p * (1 - p) / n)) << "template " << c;
    }
  }
}

}  // namespace
}  // namespace ddpm
