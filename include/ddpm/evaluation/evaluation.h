// Evaluation of a model, for `ddpm eval` and the trainer's held-out pass: the bits/dim bound with
// its untrained baseline and quartiles, FID/KID in a feature network's space, classifier scores,
// and the held-out losses. The command line only parses flags and prints what these return.
#pragma once
#include <torch/types.h>

#include <array>
#include <functional>
#include <iosfwd>
#include <string>

#include "ddpm/config/config.h"
#include "ddpm/data/dataset.h"
#include "ddpm/diffusion/diffusion.h"
#include "ddpm/evaluation/classifier.h"
#include "ddpm/evaluation/features.h"
#include "ddpm/inference/generate.h"
#include "ddpm/model/unet.h"

namespace ddpm {

// Held-out losses of the raw and EMA weights on fixed images, timesteps and noise drawn from their
// own generator (seed train.seed + 1), so that the training RNG is never disturbed; with
// train.eval_bpd_subset > 0 also the EMA's bits/dim bound.
struct HeldoutMetrics {
  double loss = 0.0;
  double loss_ema = 0.0;
  bool has_bpd = false;
  double bpd_ema = 0.0;
};
HeldoutMetrics evaluate_heldout(UNet& model, UNet& shadow, const GaussianDiffusion& diffusion,
                                const Dataset& heldout, const TrainConfig& train,
                                torch::Device device);

struct NllOptions {
  int64_t images = 0;  // the first `images` of the data set
  int64_t subset = 0;  // stratified timesteps (0: all)
  int64_t batch = 64;
  uint64_t seed = 0;  // batch b's x_t draws use seed + its first index
  // (images done, fractional, counting the current batch; timesteps done; timesteps per batch)
  std::function<void(double, int64_t, int64_t)> progress;
};
struct NllReport {
  double total = 0, standard_error = 0, prior = 0, decoder = 0, middle = 0;
  std::array<double, 4> middle_by_quartile{};  // L_1..L_T−1 summed per quartile of t
  double untrained = 0;  // the same bound for an untrained model (output 0), same images and noise
  int64_t timesteps_evaluated = 0;  // middle terms evaluated, plus L_0
  bool estimate = false;            // a stratified subset stood for the middle terms
};
NllReport evaluate_nll(UNet& model, const GaussianDiffusion& diffusion, const Dataset& data,
                       const NllOptions& options, torch::Device device);

struct FidReport {
  double fid = 0, kid = 0;
  int64_t feature_dim = 0, reference_images = 0, kid_subset_size = 0;
};
// FID and KID of `g.n` samples against the first `images` of `data`. The reference statistics are
// read from `ref_stats` when that file exists (and checked against the network), else computed
// (and written there when a path is given).
FidReport evaluate_fid(UNet& model, const GaussianDiffusion& diffusion, FeatureNetwork& network,
                       const Dataset& data, int64_t images, const GenerateOptions& g,
                       const std::string& ref_stats, std::ostream& log);

// Classifier scores of generated samples against `data`: for class-conditional models g must draw
// per class (g.per_class > 0), and the accuracy is against the requested classes.
ClassifierScores evaluate_classifier(UNet& model, const GaussianDiffusion& diffusion,
                                     Classifier& classifier, const Dataset& data,
                                     const GenerateOptions& g);

}  // namespace ddpm
