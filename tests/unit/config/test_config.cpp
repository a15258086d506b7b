#include <limits>
#include <nlohmann/json.hpp>

#include "ddpm/base/error.h"
#include "ddpm/config/config.h"
#include "ddpm/sampling/samplers.h"
#include "test_util.h"

namespace ddpm {
namespace {

using test::error_of;
using test::TempDir;
using test::write_file;

TEST(Config, DefaultsAreTheOriginalDdpm) {
  Config c;
  EXPECT_EQ(c.model.base_channels, 128);
  EXPECT_EQ(c.model.channel_mults, (std::vector<int64_t>{1, 2, 2, 2}));
  EXPECT_EQ(c.model.attention_resolutions, (std::vector<int64_t>{16}));
  EXPECT_DOUBLE_EQ(c.model.dropout, 0.1);
  EXPECT_EQ(c.diffusion.timesteps, 1000);
  EXPECT_DOUBLE_EQ(c.diffusion.beta_start, 1e-4);
  EXPECT_DOUBLE_EQ(c.diffusion.beta_end, 0.02);
  EXPECT_DOUBLE_EQ(c.train.lr, 2e-4);
  EXPECT_EQ(c.train.warmup_steps, 5000);
  EXPECT_DOUBLE_EQ(c.train.grad_clip, 1.0);
  EXPECT_DOUBLE_EQ(c.train.ema_decay, 0.9999);
  EXPECT_NO_THROW(validate(c));
}

TEST(Config, JsonRoundTripKeepsEveryValue) {
  Config c;
  c.name = "x";
  c.model.channel_mults = {1, 3};
  c.train.lr = 1.5e-3;
  c.data.path = "/tmp/imgs";
  c.sample.sampler = Sampler::ddim;
  Config back = config_from_json(config_to_json(c), "test");
  EXPECT_EQ(config_to_json(back), config_to_json(c));
  EXPECT_EQ(back.model.channel_mults, (std::vector<int64_t>{1, 3}));
  EXPECT_DOUBLE_EQ(back.train.lr, 1.5e-3);
}

TEST(Config, MissingFileIsNamed) {
  EXPECT_EQ(error_of([] { load_config("/nonexistent/x.json"); }),
            "/nonexistent/x.json: config file not found");
}

TEST(Config, EmptyFileIsAnError) {
  TempDir dir;
  write_file(dir / "empty.json", "  \n");
  EXPECT_NE(error_of([&] { load_config(dir / "empty.json"); }).find("the config file is empty"),
            std::string::npos);
}

TEST(Config, BadJsonReportsLineAndColumn) {
  TempDir dir;
  write_file(dir / "bad.json", "{\n  \"train\": {\n    \"lr\": 0.1,,\n  }\n}\n");
  std::string message = error_of([&] { load_config(dir / "bad.json"); });
  EXPECT_NE(message.find(dir / "bad.json:3:"), std::string::npos) << message;
  EXPECT_NE(message.find("invalid JSON"), std::string::npos) << message;
}

TEST(Config, NumberTooLargeForADoubleIsAnInvalidJsonError) {
  // Found by fuzz_config: nlohmann reports this as out_of_range, not as a parse error.
  const std::string message =
      error_of([] { config_from_json_text("{\n  \"train\": {\"lr\": 3255E5555555}}", "c.json"); });
  EXPECT_EQ(message.find("c.json:2:"), 0u) << message;
  EXPECT_NE(message.find("invalid JSON: number overflow parsing '3255E5555555'"), std::string::npos)
      << message;
  Config config;
  EXPECT_NE(error_of([&] {
              apply_override(config, "train.lr=1e999");
            }).find("--set train.lr=1e999: 1e999 is too large for a number"),
            std::string::npos);
}

TEST(Config, WrongTypeNamesKeyPathAndExpectedType) {
  std::string message =
      error_of([] { config_from_json_text(R"({"train": {"lr": "abc"}})", "c.json"); });
  EXPECT_EQ(message, "c.json: train.lr: expected a number, got \"abc\"");
  message =
      error_of([] { config_from_json_text(R"({"model": {"channel_mults": [1, "x"]}})", "c"); });
  EXPECT_EQ(message, "c: model.channel_mults[1]: expected an integer, got \"x\"");
  message = error_of([] { config_from_json_text(R"({"model": {"image_size": 3.5}})", "c"); });
  EXPECT_EQ(message, "c: model.image_size: expected an integer, got 3.5");
}

TEST(Config, UnknownKeySuggestsTheNearestOne) {
  EXPECT_EQ(error_of([] { config_from_json_text(R"({"train": {"lerning_rate": 1}})", "c"); }),
            "c: unknown key train.lerning_rate (did you mean train.lr?)");
  EXPECT_EQ(error_of([] { config_from_json_text(R"({"model": {"base_channel": 1}})", "c"); }),
            "c: unknown key model.base_channel (did you mean model.base_channels?)");
  EXPECT_EQ(error_of([] { config_from_json_text(R"({"trian": {}})", "c"); }),
            "c: unknown key trian (did you mean train?)");
}

TEST(Config, ImageSizeMustDivideByTheDownsamplingFactor) {
  Config c;
  c.model.image_size = 36;  // 4 levels → factor 8
  EXPECT_EQ(error_of([&] { validate(c); }),
            "model.image_size = 36: must be divisible by 8 (2^(levels-1) for 4 channel_mults "
            "levels)");
}

TEST(Config, ImpossibleValuesAreRejected) {
  auto fails = [](auto mutate, const std::string& key) {
    Config c;
    mutate(c);
    std::string message = error_of([&] { validate(c); });
    EXPECT_EQ(message.rfind(key, 0), 0u)
        << "expected an error about " << key << ", got: " << message;
  };
  fails([](Config& c) { c.train.lr = -1; }, "train.lr");
  fails([](Config& c) { c.diffusion.timesteps = 0; }, "diffusion.timesteps");
  fails([](Config& c) { c.model.attention_resolutions = {12}; }, "model.attention_resolutions");
  fails([](Config& c) { c.model.num_classes = -1; }, "model.num_classes");
  fails([](Config& c) { c.train.batch_size = 0; }, "train.batch_size");
  fails([](Config& c) { c.model.num_groups = 48; }, "model.num_groups");
  fails([](Config& c) { c.model.in_channels = 2; }, "model.in_channels");
}

// Typed choices are parsed once, where the text enters, through one name table per choice.
TEST(Config, ChoicesAreParsedAtTheBoundaryThroughTheirNameTable) {
  EXPECT_EQ(
      error_of([] { config_from_json_text(R"({"diffusion": {"schedule": "quadratic"}})", "c"); }),
      "c: diffusion.schedule: unknown value \"quadratic\" (expected linear | cosine)");
  EXPECT_EQ(error_of([] { config_from_json_text(R"({"sample": {"sampler": 3}})", "c"); }),
            "c: sample.sampler: expected a string: ddpm | ddim | dpmpp2m | heun, got 3");
  Config c = config_from_json_text(
      R"({"diffusion": {"objective": "v", "loss": "l1", "loss_weighting": "min_snr",
          "variance": "fixed_large", "schedule": "cosine"}, "train": {"precision": "bf16"},
          "sample": {"sampler": "dpmpp2m"}})",
      "c");
  EXPECT_EQ(c.diffusion.objective, Objective::v);
  EXPECT_EQ(c.diffusion.loss, Loss::l1);
  EXPECT_EQ(c.diffusion.loss_weighting, LossWeighting::min_snr);
  EXPECT_EQ(c.diffusion.variance, Variance::fixed_large);
  EXPECT_EQ(c.diffusion.schedule, Schedule::cosine);
  EXPECT_EQ(c.train.precision, Precision::bf16);
  EXPECT_EQ(c.sample.sampler, Sampler::dpmpp2m);
  // Written back by the same table.
  auto json = config_to_json(c);
  EXPECT_EQ(json["diffusion"]["variance"], "fixed_large");
  EXPECT_EQ(json["sample"]["sampler"], "dpmpp2m");
  EXPECT_EQ(choice_list<Spacing>(), "auto | uniform | quadratic | logsnr");
  EXPECT_EQ(parse_choice<Spacing>("auto", "--spacing"), Spacing::automatic);
  EXPECT_EQ(parse_choice<Spacing>("", "--spacing"), Spacing::automatic);  // the old flag default
  EXPECT_EQ(json["sample"]["spacing"], "auto");
  // sample.spacing is a config key like steps and eta: set, written back, read into the sampler.
  Config spaced;
  apply_override(spaced, "sample.spacing=quadratic");
  EXPECT_EQ(spaced.sample.spacing, Spacing::quadratic);
  EXPECT_EQ(config_to_json(spaced)["sample"]["spacing"], "quadratic");
  EXPECT_EQ(sampler_options(spaced.sample).spacing, Spacing::quadratic);
}

// Found by fuzz_config: num_groups = 0 reached a modulo before its own check (division by zero),
// and huge sizes overflowed the channel products. Each is now a plain error.
TEST(Config, ZeroGroupsAndHugeSizesAreErrorsNotArithmeticFaults) {
  Config c;
  c.model.num_groups = 0;
  EXPECT_EQ(error_of([&] { validate(c); }), "model.num_groups = 0: must be positive");
  c = Config{};
  c.model.base_channels = int64_t{1} << 40;
  EXPECT_EQ(error_of([&] { validate(c); }),
            "model.base_channels = 1099511627776: must be in [1, 8192]");
  c = Config{};
  c.model.channel_mults = {1, int64_t{1} << 62};
  EXPECT_EQ(error_of([&] { validate(c); }),
            "model.channel_mults = 4611686018427387904: every multiplier must be in [1, 256]");
  c = Config{};
  c.model.channel_mults = std::vector<int64_t>(70, 1);
  EXPECT_EQ(error_of([&] { validate(c); }),
            "model.channel_mults = 70 levels: at most 16 are supported");
  c = Config{};
  c.diffusion.timesteps = int64_t{1} << 40;
  EXPECT_EQ(error_of([&] { validate(c); }).rfind("diffusion.timesteps = ", 0), 0u);
}

TEST(Config, OverridesParseValuesAndCheckKeys) {
  Config c;
  apply_override(c, "train.lr=1e-3");
  EXPECT_DOUBLE_EQ(c.train.lr, 1e-3);
  apply_override(c, "model.channel_mults=[1,2]");
  EXPECT_EQ(c.model.channel_mults, (std::vector<int64_t>{1, 2}));
  apply_override(c, "train.device=cpu");
  EXPECT_EQ(c.train.device, "cpu");
  apply_override(c, "data.path=123");
  EXPECT_EQ(c.data.path, "123");
  EXPECT_EQ(error_of([&] { apply_override(c, "train.lerning_rate=1"); }),
            "--set: unknown key train.lerning_rate (did you mean train.lr?)");
  EXPECT_EQ(error_of([&] { apply_override(c, "train.lr=abc"); }),
            "--set: train.lr: expected a number, got \"abc\"");
  EXPECT_NE(error_of([&] { apply_override(c, "nonsense"); }).find("expected section.key=value"),
            std::string::npos);
}

// sample.guidance_interval: [] (every step) or [sigma_min, sigma_max], parsed, written back and
// checked like every other key.
TEST(Config, GuidanceIntervalIsEmptyOrAnOrderedPairOfNoiseLevels) {
  Config c;
  EXPECT_TRUE(c.sample.guidance_interval.empty());
  apply_override(c, "sample.guidance_interval=[0.28,5.42]");
  EXPECT_EQ(c.sample.guidance_interval, (std::vector<double>{0.28, 5.42}));
  validate(c);
  EXPECT_EQ(config_from_json(config_to_json(c), "t").sample.guidance_interval,
            c.sample.guidance_interval);
  const std::string rule =
      ": must be [] (every step) or [sigma_min, sigma_max] with 0 <= sigma_min < sigma_max, e.g. "
      "[0.28, 5.42]";
  for (const auto& [value, shown] : std::vector<std::pair<std::vector<double>, std::string>>{
           {{1.0}, "[1.0]"},
           {{5.0, 1.0}, "[5.0,1.0]"},
           {{-1.0, 2.0}, "[-1.0,2.0]"},
           {{1.0, 1.0}, "[1.0,1.0]"},
           {{0.1, 1.0, 2.0}, "[0.1,1.0,2.0]"}}) {
    c.sample.guidance_interval = value;
    EXPECT_EQ(error_of([&] { validate(c); }), "sample.guidance_interval = " + shown + rule);
  }
  c.sample.guidance_interval = {0.0, std::numeric_limits<double>::infinity()};
  EXPECT_EQ(error_of([&] { validate(c); }),
            "sample.guidance_interval = inf: must be a finite number within float32's range "
            "(|x| <= 3.4e38)");
  EXPECT_EQ(error_of([] { config_from_json_text(R"({"sample": {"guidance_interval": 1}})", "c"); }),
            "c: sample.guidance_interval: expected an array of numbers, got 1");
  EXPECT_EQ(error_of([] {
              config_from_json_text(R"({"sample": {"guidance_interval": [1, "x"]}})", "c");
            }),
            "c: sample.guidance_interval[1]: expected a number, got \"x\"");
}

TEST(Config, Rank0WorkTimeoutIsSecondsWithZeroForNoLimit) {
  Config c;
  EXPECT_EQ(c.train.rank0_work_timeout, 0) << "no limit unless asked";
  apply_override(c, "train.rank0_work_timeout=3600");
  validate(c);
  EXPECT_EQ(config_from_json(config_to_json(c), "t").train.rank0_work_timeout, 3600);
  c.train.rank0_work_timeout = -1;
  EXPECT_EQ(error_of([&] { validate(c); }),
            "train.rank0_work_timeout = -1: must be in [0, 604800] seconds (0 = no limit)");
}

TEST(Config, ClassBalanceIsAShareInZeroOneForClassConditionalModels) {
  Config c;
  c.model.num_classes = 3;
  apply_override(c, "data.class_balance=0.5");
  validate(c);
  EXPECT_EQ(config_from_json(config_to_json(c), "t").data.class_balance, 0.5);
  c.data.class_balance = 1.5;
  EXPECT_EQ(error_of([&] { validate(c); }),
            "data.class_balance = 1.5: must be in [0, 1] (0: the data's class frequencies, 1: "
            "equal shares)");
  c.data.class_balance = 1;
  c.model.num_classes = 0;
  EXPECT_EQ(error_of([&] { validate(c); }),
            "data.class_balance = 1: needs a class-conditional model (model.num_classes > 0, a "
            "folder per class)");
}

TEST(Config, ShippedConfigsAreValid) {
  for (const char* name :
       {"cifar10", "flowers", "tiny", "default", "emoji64", "fashion", "fashion_gpu"}) {
    Config c = load_config(test::source_path(std::string("configs/") + name + ".json"));
    EXPECT_NO_THROW(validate(c)) << name;
    EXPECT_EQ(c.name, name);
    // The project's own configs predict v; the paper configs keep the paper's ε.
    const bool paper = std::string(name) == "cifar10" || std::string(name) == "tiny";
    if (!paper) EXPECT_EQ(c.diffusion.objective, Objective::v) << name;
  }
  EXPECT_EQ(load_config(test::source_path("configs/cifar10.json")).diffusion.objective,
            Objective::eps);
  const Config fashion = load_config(test::source_path("configs/fashion.json"));
  EXPECT_EQ(fashion.model.num_classes, 10);
  EXPECT_EQ(fashion.model.in_channels, 1);
  EXPECT_GT(fashion.sample.guidance, 0.0);
}

}  // namespace
}  // namespace ddpm
