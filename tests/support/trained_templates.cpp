#include "trained_templates.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "ddpm/base/error.h"
#include "ddpm/data/image_io.h"
#include "test_util.h"

namespace ddpm::test {
namespace fs = std::filesystem;

void write_flat_png(const std::string& path, const std::array<uint8_t, 3>& rgb) {
  Image image{kTemplateSide, kTemplateSide, 3, {}};
  for (int p = 0; p < kTemplateSide * kTemplateSide; ++p) {
    image.pixels.insert(image.pixels.end(), rgb.begin(), rgb.end());
  }
  write_png(path, image);
}

void write_templates(const std::string& dir) {
  fs::create_directories(dir);
  int k = 0;
  for (size_t c = 0; c < kTemplates.size(); ++c) {
    for (int i = 0; i < kTemplateCounts[c]; ++i) {
      write_flat_png(dir + "/t" + std::to_string(k++) + ".png", kTemplates[c]);
    }
  }
}

torch::Tensor flat_tensor(const std::array<uint8_t, 3>& rgb) {
  auto colour = torch::tensor({rgb[0], rgb[1], rgb[2]}, torch::kFloat32) / 127.5 - 1.0;
  return colour.view({3, 1, 1}).expand({3, kTemplateSide, kTemplateSide}).contiguous();
}

torch::Tensor template_tensor() {
  std::vector<torch::Tensor> ts;
  for (const auto& rgb : kTemplates) ts.push_back(flat_tensor(rgb));
  return torch::stack(ts);
}

std::string template_train_args(const std::string& run_dir, const std::string& data_dir,
                                int64_t steps) {
  // A v-prediction model, 1000 steps. (Min-SNR-5 weighting draws cleaner templates but, weighting
  // the low-SNR steps that decide the proportions by SNR, learns them less reliably:
  // docs/notebook/quality.md.)
  return "--config configs/tiny.json --set train.threads=1 --set train.run_dir='" + run_dir +
         "' --set data.path='" + data_dir +
         "' --set model.image_size=8 --set model.base_channels=32 --set "
         "model.attention_resolutions=[] --set diffusion.timesteps=1000 --set "
         "diffusion.schedule=cosine --set diffusion.objective=v --set data.random_flip=false "
         "--set train.steps=" +
         std::to_string(steps) +
         " --set train.batch_size=64 --set train.lr=0.001 --set train.warmup_steps=50 --set "
         "train.ema_decay=0.99 --set train.ema_warmup_power=0.75 --set train.checkpoint_every=" +
         std::to_string(steps);
}

std::string trained_template_checkpoint() {
  struct stat binary {};
  if (stat(DDPM_BINARY, &binary) != 0) throw Error("no ddpm binary at " DDPM_BINARY);
  const fs::path dir =
      fs::path(DDPM_BINARY).parent_path() / "test-cache" /
      ("templates-" + std::to_string(binary.st_mtime) + "-" + std::to_string(binary.st_size));
  fs::create_directories(dir);
  const int lock = open((dir / "lock").c_str(), O_CREAT | O_RDWR, 0644);
  if (lock < 0 || flock(lock, LOCK_EX) != 0) throw Error("cannot lock " + dir.string());
  const std::string ckpt = (dir / "run/last.pt").string();
  if (!fs::exists(ckpt)) {
    std::error_code ec;  // runs of earlier builds: no longer used
    for (fs::directory_iterator it(dir.parent_path(), ec), end; !ec && it != end;
         it.increment(ec)) {
      if (it->path() != dir) fs::remove_all(it->path(), ec);
    }
    fs::remove_all(dir / "run");
    write_templates((dir / "data").string());
    auto result = run_ddpm(
        "train " + template_train_args((dir / "run").string(), (dir / "data").string(), 1000));
    if (result.exit_code != 0) {
      close(lock);
      throw Error("training the template model failed: " + result.err);
    }
  }
  close(lock);
  return ckpt;
}

}  // namespace ddpm::test
