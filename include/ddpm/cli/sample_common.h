// What the commands that draw from a checkpoint share (sample, its editing modes, invert): classes
// by name, the sampling flags over the checkpoint's config, the output paths, the progress line and
// the PNG metadata.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "ddpm/base/progress.h"
#include "ddpm/base/stopwatch.h"
#include "ddpm/cli/cli_options.h"
#include "ddpm/data/image_io.h"
#include "ddpm/inference/generate.h"
#include "ddpm/inference/inference.h"
#include "ddpm/io/checkpoint.h"

namespace ddpm {

// A class given by name (from the checkpoint's mapping, or "sneaker" for "7_Sneaker") or by index.
int64_t resolve_class(const std::string& value, const CheckpointMeta& meta);

// The grid is one PNG: its size is checked before any sampling starts.
void check_grid_size(int64_t n, int64_t nrow, int64_t image_size);

// The checkpoint's config with the flags that stand for config keys (--sampler, --steps, --spacing,
// --eta, --churn, --batch, --guidance, --guidance-interval, --no-clip, --threads, --device),
// validated as a config is.
Config sample_config(const cxxopts::ParseResult& args, const CheckpointMeta& meta);

// DDIM with η = 0, the sampler that inversion inverts (`ddpm invert`, `sample --interpolate`):
// --steps, or the config's steps when its sampler is DDIM, else DDIM's default. Another --sampler
// or a non-zero --eta is an error naming `mode`. Unguided unless --guidance is given.
void use_ddim(const cxxopts::ParseResult& args, const Config& config, GenerateOptions& g,
              const std::string& mode);

// A grid of pairs: left[i] beside right[i] ([n, C, H, W] each), about √n pairs per row; and the
// images per row it has, for check_grid_size before any work.
int64_t pair_grid_columns(int64_t n);
Image pairs_grid(const torch::Tensor& left, const torch::Tensor& right);

// --refine: fixed-point iterations per inversion step, in [0, 20] (default
// kDefaultInversionRefine).
int64_t refine_flag(const cxxopts::ParseResult& args);

// --out, or `default_name` beside the checkpoint; its folder must exist and be writable.
std::filesystem::path output_path(const cxxopts::ParseResult& args, const std::string& ckpt_path,
                                  const std::string& default_name = "samples.png");

// The status line: images done (fractional), step within the batch, images/s; off a terminal
// every tenth of the work.
std::function<void(int64_t, int64_t, int64_t, int64_t)> sampling_progress(ProgressLine& progress,
                                                                          int64_t batch,
                                                                          Stopwatch watch);

// The PNG metadata of what `g` drew from the checkpoint.
PngText png_text(const std::string& ckpt_path, const CheckpointMeta& meta, Weights weights,
                 const GenerateOptions& g);

// One PNG per image into `dir`: sample_00000.png, ..., or NAME.png for each of `names` when given.
void write_individual(const std::filesystem::path& dir, const torch::Tensor& images,
                      const PngText& text, const std::vector<std::string>& names = {});

}  // namespace ddpm
