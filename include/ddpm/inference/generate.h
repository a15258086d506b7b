// Turns a UNet and a sampler into images: batching, per-image seeds, class labels and guidance.
#pragma once
#include <torch/types.h>

#include <string>
#include <vector>

#include "ddpm/diffusion/diffusion.h"
#include "ddpm/model/unet.h"
#include "ddpm/sampling/samplers.h"

namespace ddpm {

struct GenerateOptions {
  int64_t n = 16;
  int64_t batch = 64;
  uint64_t seed = 0;         // image i starts from seed + i
  int64_t class_label = -1;  // -1: unconditional (the null class on a conditional model)
  // > 0 (class-conditional models): image i gets class i / per_class, so that a grid with per_class
  // images per row has class r in row r; n must then be per_class × the number of classes.
  int64_t per_class = 0;
  double guidance = 0.0;
  // [σ_min, σ_max]: guidance only where σ_t lies in it (SampleConfig::guidance_interval); empty:
  // every step.
  std::vector<double> guidance_interval;
  bool bf16 = false;  // bf16 autocast of the network
  SamplerOptions sampler;
  // Editing: image i starts from init[i] ([n, C, H, W] in [-1, 1]) noised to the timestep of
  // `strength` (image-to-image; 1: from pure noise, as without init), keeping init[i] where keep[i]
  // ([n, 1, H, W] bool) is true (inpainting: those pixels of the output are init's exactly).
  torch::Tensor init;
  torch::Tensor keep;
  double strength = 1.0;
  // Decoding: image i starts from latents[i], x at the plan's first timestep (inverted latents).
  torch::Tensor latents;
  // Called with (images done, total images, steps done in this batch, steps per batch).
  std::function<void(int64_t, int64_t, int64_t, int64_t)> progress;
};

// Draws `per_class` images of every one of `classes` classes, class r in row r: sets per_class and
// n.
void draw_per_class(GenerateOptions& options, int64_t per_class, int64_t classes);

// Images per grid row for what `options` draws: per_class (row r = class r) while there are at
// most 4 × per_class classes, else whole classes per row in an about square grid
// (per_class × round(√(classes / per_class))); without per_class, ⌈√n⌉.
int64_t grid_columns(const GenerateOptions& options);

// The denoiser of images [start, start + B) of what `options` draw: on a class-conditional model
// their labels (class_label, or row r = class r with per_class) and the guidance, limited to the
// timesteps where `guided` (bool [T], optional) is true.
Denoiser image_denoiser(UNet& model, const GenerateOptions& options, int64_t start, int64_t B,
                        const torch::Tensor& guided, torch::Device device);

// Samples options.n images [n, C, H, W] in [-1, 1] (clamped) on the model's device, in inference
// mode.
torch::Tensor generate(UNet& model, const GaussianDiffusion& diffusion,
                       const GenerateOptions& options);

}  // namespace ddpm
