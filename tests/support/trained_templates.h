// A data set with a known answer, and a model the binary trains on it once per build: three flat
// colour templates in proportions 0.2 / 0.3 / 0.5, 8x8. The trained-model tests of the samplers and
// of editing share the run (trained on first use into the build folder, under a lock, and keyed by
// the ddpm binary, so that a rebuilt binary trains afresh).
#pragma once
#include <torch/types.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace ddpm::test {

inline const std::vector<std::array<uint8_t, 3>> kTemplates = {
    {230, 40, 40}, {40, 200, 60}, {40, 60, 220}};
inline const std::vector<int> kTemplateCounts = {20, 30, 50};
inline constexpr int kTemplateSide = 8;

// One flat `rgb` image of the template size.
void write_flat_png(const std::string& path, const std::array<uint8_t, 3>& rgb);
// The data set: kTemplateCounts[c] images of template c, as t0.png, t1.png, ...
void write_templates(const std::string& dir);
// The templates in [-1, 1], [3, C, H, W].
torch::Tensor template_tensor();
// A flat colour in [-1, 1], [C, H, W].
torch::Tensor flat_tensor(const std::array<uint8_t, 3>& rgb);

// The training flags of the template model (v-prediction, cosine, 1000 timesteps), for a run in
// `run_dir` on `data_dir`, `steps` steps.
std::string template_train_args(const std::string& run_dir, const std::string& data_dir,
                                int64_t steps);
// last.pt of the shared template run, training it first if this build has none yet.
std::string trained_template_checkpoint();

}  // namespace ddpm::test
