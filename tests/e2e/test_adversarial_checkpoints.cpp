// Issue 15, through the real binary: crafted checkpoints with valid checksums. The embedded config
// is validated exactly like a config file, the metadata's counts and lists are checked, and every
// tensor's name, shape, dtype and values are checked against the model before anything is loaded.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>

#include "ddpm/base/crc.h"
#include "ddpm/data/image_io.h"
#include "ddpm/io/checkpoint.h"
#include "ddpm/model/unet.h"
#include "test_util.h"

namespace ddpm {
namespace {

using nlohmann::json;
using test::expect_one_line_error;
using test::run_ddpm;

std::vector<uint8_t> bytes_of(const std::string& path) {
  const auto text = test::read_file(path);
  return {text.begin(), text.end()};
}

void append_u64(std::vector<uint8_t>& out, uint64_t v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  out.insert(out.end(), p, p + 8);
}

// The checkpoint with its metadata JSON and/or payload replaced and a correct CRC: what a crafted
// or edited file looks like to the reader.
std::vector<uint8_t> rebuild(const std::vector<uint8_t>& b,
                             const std::function<void(json&)>& edit_meta,
                             const std::function<void(std::vector<uint8_t>&)>& edit_payload = {}) {
  CheckpointLayout at;
  EXPECT_TRUE(checkpoint_layout(b.data(), b.size(), at));
  json meta = json::parse(b.begin() + at.meta_pos, b.begin() + at.meta_pos + at.meta_len);
  if (edit_meta) edit_meta(meta);
  std::vector<uint8_t> payload(b.begin() + at.payload_pos,
                               b.begin() + at.payload_pos + at.payload_len);
  if (edit_payload) edit_payload(payload);
  const std::string text = meta.dump();
  std::vector<uint8_t> out(b.begin(), b.begin() + 16);
  append_u64(out, text.size());
  out.insert(out.end(), text.begin(), text.end());
  append_u64(out, payload.size());
  out.insert(out.end(), payload.begin(), payload.end());
  const uint32_t crc = crc32(out.data(), out.size());
  const auto* p = reinterpret_cast<const uint8_t*>(&crc);
  out.insert(out.end(), p, p + 4);
  return out;
}

class AdversarialCheckpoints : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir;
    test::make_emoji_folder(*dir_ / "emoji", 16);
    const auto r =
        run_ddpm(test::tiny_train_args(*dir_ / "run", *dir_ / "emoji", "--set train.steps=2"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    good_ = new std::vector<uint8_t>(bytes_of(*dir_ / "run/last.pt"));
  }
  static void TearDownTestSuite() {
    delete good_;
    delete dir_;
  }
  static std::string write(const std::string& name, const std::vector<uint8_t>& bytes) {
    test::write_file(*dir_ / name, std::string(bytes.begin(), bytes.end()));
    return *dir_ / name;
  }
  static std::string sample(const std::string& path) {
    return "sample --threads 1 --n 2 --sampler ddim --steps 2 --ckpt '" + path + "' --out '" +
           (*dir_ / "g.png") + "'";
  }
  // A checkpoint with the good metadata whose 'ema' (and 'model') part holds `module`'s tensors.
  static std::string with_weights(const std::string& name, torch::nn::Module& module) {
    const auto meta = Checkpoint::from_bytes(*good_, "good.pt").meta();
    CheckpointParts parts;
    parts.model = &module;
    parts.ema = &module;
    parts.rng = false;
    return write(name, serialize_checkpoint(meta, parts));
  }
  static ModelConfig tiny_model() {
    return Checkpoint::from_bytes(*good_, "good.pt").meta().config.model;
  }
  static test::TempDir* dir_;
  static std::vector<uint8_t>* good_;
};
test::TempDir* AdversarialCheckpoints::dir_ = nullptr;
std::vector<uint8_t>* AdversarialCheckpoints::good_ = nullptr;

TEST_F(AdversarialCheckpoints, TheEmbeddedConfigIsValidatedLikeAConfigFile) {
  struct Case {
    const char* section;
    const char* key;
    json value;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {"model", "num_heads", 0, "model.num_heads = 0: must be positive"},  // was SIGFPE
           {"model", "num_groups", 0, "model.num_groups = 0"},
           {"model", "in_channels", 7, "model.in_channels = 7"},
           {"model", "channel_mults", json::array(), "model.channel_mults"},
           {"model", "image_size", 1 << 20, "model.image_size = 1048576"},
           {"diffusion", "beta_end", 5, "diffusion.beta_end = 5"},  // sampled silently
           {"diffusion", "timesteps", 0, "diffusion.timesteps = 0"},
           {"diffusion", "objective", "noise", "diffusion.objective: unknown value \"noise\""},
           {"sample", "eta", -1, "sample.eta = -1"},
           {"train", "lr", 1e300, "train.lr = 1e+300"},
       }) {
    const auto path = write(
        "config.pt", rebuild(*good_, [&](json& m) { m["config"][c.section][c.key] = c.value; }));
    for (const auto& command :
         {sample(path), "info --ckpt '" + path + "'",
          "eval --threads 1 --ckpt '" + path + "' --data '" + (*dir_ / "emoji") + "'"}) {
      expect_one_line_error(run_ddpm(command), "config.pt: embedded config: " + c.message, command);
    }
  }
  const auto unknown =
      write("unknown.pt", rebuild(*good_, [](json& m) { m["config"]["model"]["width"] = 3; }));
  expect_one_line_error(run_ddpm(sample(unknown)), "unknown key model.width", "unknown key");
}

TEST_F(AdversarialCheckpoints, TheMetadataIsCheckedForRangesAndConsistency) {
  struct Case {
    std::function<void(json&)> edit;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {[](json& m) { m["data"]["index"] = -3; },
            "index = -3 is not a count"},  // was "index out of range"
           {[](json& m) { m["data"]["epoch"] = -1; }, "epoch = -1 is not a count"},
           {[](json& m) { m["step"] = -1; }, "step = -1 is not a count"},
           {[](json& m) { m["step"] = "seven"; }, "step = \"seven\" is not a count"},
           {[](json& m) { m["ema_updates"] = 18446744073709551615ull; },
            "ema_updates = 18446744073709551615"},
           {[](json& m) {
              m["class_names"] = {"a", "b"};
            },
            "2 class names for model.num_classes = 0"},
           {[](json& m) {
              m["parts"] = {"model", "ema", "weights"};
            },
            "unknown part 'weights'"},
           {[](json& m) { m.erase("config"); }, "checkpoint metadata is invalid"},
       }) {
    const auto path = write("meta.pt", rebuild(*good_, c.edit));
    expect_one_line_error(run_ddpm(sample(path)), c.message, c.message);
    expect_one_line_error(run_ddpm("info --ckpt '" + path + "'"), c.message, c.message);
  }
  // A data position beyond the data is refused on resume, naming the folder.
  const auto beyond =
      write("beyond.pt", rebuild(*good_, [](json& m) { m["data"]["index"] = 100000; }));
  expect_one_line_error(
      run_ddpm(test::tiny_train_args(*dir_ / "run", *dir_ / "emoji",
                                     "--set train.steps=4 --resume '" + beyond + "'")),
      "lies beyond the 16 images of", "beyond");
}

TEST_F(AdversarialCheckpoints, EveryTensorIsCheckedBeforeLoading) {
  ModelConfig narrow = tiny_model();
  narrow.base_channels = 8;
  UNet wrong_shape(narrow);
  UNet wrong_dtype(tiny_model());
  wrong_dtype->to(torch::kFloat64);
  UNet extra(tiny_model());
  extra->register_parameter("bogus", torch::zeros({3}));
  UNet with_nan(tiny_model());
  {
    torch::NoGradGuard no_grad;
    with_nan->parameters()[0].fill_(std::nan(""));
  }
  torch::nn::Module empty;
  struct Case {
    std::string name;
    torch::nn::Module* module;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {"shape.pt", wrong_shape.get(),
            "in the checkpoint, but the model built from its config has ["},
           {"dtype.pt", wrong_dtype.get(),
            "dtype Double in the checkpoint, but the model has Float"},
           {"extra.pt", extra.get(), "bogus: not part of the model"},
           {"nan.pt", with_nan.get(), "holds NaN or infinite values"},
           {"missing.pt", &empty, "missing from the checkpoint"},
       }) {
    const auto path = with_weights(c.name, *c.module);
    expect_one_line_error(run_ddpm(sample(path)), c.message, c.name);
  }
  // The same checks guard --resume, which loads the raw weights, the EMA and the optimizer.
  const auto meta = Checkpoint::from_bytes(*good_, "good.pt").meta();
  torch::optim::AdamW optimizer(wrong_shape->parameters());
  CheckpointParts parts;
  parts.model = wrong_shape.get();
  parts.ema = wrong_shape.get();
  parts.optimizer = &optimizer;
  const auto path = write("resume-shape.pt", serialize_checkpoint(meta, parts));
  expect_one_line_error(
      run_ddpm(test::tiny_train_args(*dir_ / "run2", *dir_ / "emoji",
                                     "--set train.steps=4 --resume '" + path + "'")),
      "resume-shape.pt ('model' weights): ", "resume");
}

TEST_F(AdversarialCheckpoints, ADamagedArchiveBehindAValidChecksumIsNamed) {
  const auto garbage = write("garbage.pt", rebuild(*good_, {}, [](std::vector<uint8_t>& p) {
                               for (size_t i = 0; i < p.size(); i += 7) p[i] ^= 0x5A;
                             }));
  expect_one_line_error(run_ddpm(sample(garbage)),
                        "garbage.pt: the checkpoint's tensor archive cannot be read", "garbage");
  const auto empty =
      write("empty-archive.pt", rebuild(*good_, {}, [](std::vector<uint8_t>& p) { p.clear(); }));
  expect_one_line_error(run_ddpm(sample(empty)), "tensor archive cannot be read", "empty archive");
}

}  // namespace
}  // namespace ddpm
