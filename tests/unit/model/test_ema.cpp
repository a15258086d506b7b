#include <gtest/gtest.h>

#include <cmath>

#include "ddpm/model/ema.h"
#include "ddpm/training/train_step.h"

namespace ddpm {
namespace {

struct Tiny : torch::nn::Module {
  Tiny() { w = register_parameter("w", torch::zeros({3})); }
  torch::Tensor w;
};

TEST(Ema, FollowsTheClosedFormForAConstantTarget) {
  auto model = std::make_shared<Tiny>();
  auto shadow = std::make_shared<Tiny>();
  Ema ema(*model, shadow, {0.9, 0, 1, 0});  // starts as a copy: shadow = 0
  {
    torch::NoGradGuard g;
    model->w.fill_(1.0);
  }
  for (int step = 1; step <= 10; ++step) ema.update(*model, step);
  // s_n = θ + d^n (s_0 − θ) = 1 − 0.9^10
  EXPECT_NEAR(shadow->w[0].item<double>(), 1.0 - std::pow(0.9, 10), 1e-6);
  EXPECT_EQ(ema.num_updates(), 10);
}

TEST(Ema, StartStepEveryAndWarmup) {
  auto model = std::make_shared<Tiny>();
  auto shadow = std::make_shared<Tiny>();
  Ema ema(*model, shadow, {0.5, 5, 2, 0});
  {
    torch::NoGradGuard g;
    model->w.fill_(4.0);
  }
  ema.update(*model, 3);  // before start: copies
  EXPECT_EQ(shadow->w[0].item<double>(), 4.0);
  {
    torch::NoGradGuard g;
    model->w.fill_(0.0);
  }
  ema.update(*model, 5);  // odd step with every = 2: no update
  EXPECT_EQ(shadow->w[0].item<double>(), 4.0);
  ema.update(*model, 6);
  EXPECT_DOUBLE_EQ(shadow->w[0].item<double>(), 2.0);
  Ema warm(*model, std::make_shared<Tiny>(), {0.9999, 0, 1, 0.75});
  EXPECT_NEAR(warm.decay_for_update(0), 0.0, 1e-12);
  EXPECT_NEAR(warm.decay_for_update(10), 1 - std::pow(11.0, -0.75), 1e-12);
  EXPECT_DOUBLE_EQ(warm.decay_for_update(100000000), 0.9999);
}

TEST(Trainer, LinearWarmup) {
  TrainConfig t;
  t.lr = 2e-4;
  t.warmup_steps = 5000;
  EXPECT_DOUBLE_EQ(learning_rate_at(t, 0), 2e-4 / 5000);
  EXPECT_DOUBLE_EQ(learning_rate_at(t, 2499), 1e-4);
  EXPECT_DOUBLE_EQ(learning_rate_at(t, 4999), 2e-4);
  EXPECT_DOUBLE_EQ(learning_rate_at(t, 100000), 2e-4);
  t.warmup_steps = 0;
  EXPECT_DOUBLE_EQ(learning_rate_at(t, 0), 2e-4);
}

// After a warm-up of 100 steps, the decay to 0 at step 1100 against its closed forms: linear
// 1 - d and cosine (1 + cos πd)/2 with d = (step - 100)/1000; the warm-up multiplies, the step
// count past the end holds at 0, and a run shorter than its warm-up never decays.
TEST(Trainer, LrScheduleDecaysToZeroAtTheLastStep) {
  TrainConfig t;
  t.lr = 1e-3;
  t.warmup_steps = 100;
  t.steps = 1100;
  t.lr_schedule = LrSchedule::linear;
  EXPECT_DOUBLE_EQ(learning_rate_at(t, 49), 1e-3 * 0.5);
  EXPECT_DOUBLE_EQ(learning_rate_at(t, 100), 1e-3);
  EXPECT_NEAR(learning_rate_at(t, 350), 1e-3 * 0.75, 1e-15);
  EXPECT_NEAR(learning_rate_at(t, 1099), 1e-3 * 0.001, 1e-15);
  EXPECT_DOUBLE_EQ(learning_rate_at(t, 5000), 0.0);
  t.lr_schedule = LrSchedule::cosine;
  EXPECT_DOUBLE_EQ(learning_rate_at(t, 100), 1e-3);
  EXPECT_NEAR(learning_rate_at(t, 350), 1e-3 * (1 + std::sqrt(0.5)) / 2, 1e-15);
  EXPECT_NEAR(learning_rate_at(t, 600), 0.5e-3, 1e-15);
  EXPECT_NEAR(learning_rate_at(t, 850), 1e-3 * (1 - std::sqrt(0.5)) / 2, 1e-15);
  EXPECT_NEAR(learning_rate_at(t, 1100), 0.0, 1e-18);
  for (int64_t s = 100; s < 1100; ++s)
    EXPECT_LE(learning_rate_at(t, s + 1), learning_rate_at(t, s));
  t.steps = 50;
  EXPECT_DOUBLE_EQ(learning_rate_at(t, 49), 1e-3 * 0.5);
}

}  // namespace
}  // namespace ddpm
