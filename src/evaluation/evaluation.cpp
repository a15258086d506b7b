#include "ddpm/evaluation/evaluation.h"

#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/InferenceMode.h>

#include <cmath>
#include <filesystem>
#include <ostream>

#include "ddpm/base/error.h"
#include "ddpm/diffusion/likelihood.h"
#include "ddpm/evaluation/metrics.h"

namespace ddpm {
namespace {

double held_out_loss(UNet& net, const GaussianDiffusion& diffusion, const torch::Tensor& x0,
                     const torch::Tensor& t, const torch::Tensor& noise,
                     const torch::Tensor& labels) {
  const bool was_training = net->is_training();
  net->eval();
  auto out = net->forward(diffusion.q_sample(x0, t, noise), t, labels);
  if (was_training) net->train();
  return diffusion.loss_per_example(out, x0, noise, t).mean().item<double>();
}

Denoiser conditioned(UNet& model, const torch::Tensor& labels) {
  return [&model, labels](const torch::Tensor& x, const torch::Tensor& t) {
    return model->forward(x, t, labels);
  };
}

torch::Tensor float64_cpu(const torch::Tensor& x) { return x.cpu().to(torch::kFloat64); }

double mean_of(const std::vector<torch::Tensor>& parts) {
  return torch::cat(parts).mean().item<double>();
}

// Per-batch parts of the bound, concatenated at the end.
struct NllParts {
  std::vector<torch::Tensor> totals, priors, decoders, middles, untrained;
  torch::Tensor quartiles = torch::zeros({4}, torch::kFloat64);
  int64_t middle_terms = 0;

  void add(const BoundTerms& bound, const BoundTerms& zero, int64_t T) {
    totals.push_back(float64_cpu(bound.total()));
    untrained.push_back(float64_cpu(zero.total()));
    priors.push_back(float64_cpu(bound.prior));
    decoders.push_back(float64_cpu(bound.decoder));
    middles.push_back(float64_cpu(bound.middle()));
    auto terms = float64_cpu(bound.terms);  // [B, K]
    for (size_t k = 0; k < bound.timesteps.size(); ++k) {
      const int64_t q = std::min<int64_t>(3, 4 * bound.timesteps[k] / T);
      quartiles[q] += terms.select(1, static_cast<int64_t>(k)).sum() * bound.weights[k];
    }
    middle_terms = static_cast<int64_t>(bound.timesteps.size());
  }

  NllReport report(int64_t n, int64_t subset, int64_t T) const {
    NllReport r;
    auto total = torch::cat(totals);
    r.total = total.mean().item<double>();
    r.standard_error = n > 1 ? total.std().item<double>() / std::sqrt(static_cast<double>(n)) : 0.0;
    r.prior = mean_of(priors);
    r.decoder = mean_of(decoders);
    r.middle = mean_of(middles);
    r.untrained = mean_of(untrained);
    for (int q = 0; q < 4; ++q) r.middle_by_quartile[q] = quartiles[q].item<double>() / n;
    r.timesteps_evaluated = middle_terms + 1;
    r.estimate = subset > 0 && subset < T - 1;
    return r;
  }
};

}  // namespace

HeldoutMetrics evaluate_heldout(UNet& model, UNet& shadow, const GaussianDiffusion& diffusion,
                                const Dataset& heldout, const TrainConfig& tc,
                                torch::Device device) {
  c10::InferenceMode inference;
  const int64_t n = std::min(tc.eval_images, heldout.size());
  auto x0 = to_model_range(heldout.images.slice(0, 0, n)).to(device);
  torch::Tensor labels;
  if (model->config().num_classes > 0) labels = heldout.labels.slice(0, 0, n).to(device);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(tc.seed) + 1);
  auto t = torch::randint(0, diffusion.timesteps(), {n}, gen, torch::kLong).to(device);
  auto noise = torch::randn(x0.sizes(), gen, torch::kFloat32).to(device);
  HeldoutMetrics m;
  m.loss = held_out_loss(model, diffusion, x0, t, noise, labels);
  m.loss_ema = held_out_loss(shadow, diffusion, x0, t, noise, labels);
  if (tc.eval_bpd_subset > 0) {
    m.has_bpd = true;
    m.bpd_ema = variational_bound(diffusion, conditioned(shadow, labels), x0, tc.eval_bpd_subset,
                                  tc.seed + 2)
                    .total()
                    .mean()
                    .item<double>();
  }
  return m;
}

NllReport evaluate_nll(UNet& model, const GaussianDiffusion& diffusion, const Dataset& data,
                       const NllOptions& o, torch::Device device) {
  c10::InferenceMode inference;
  const int64_t n = o.images;
  // An untrained model outputs 0 in its objective (its output layer starts at zero): the same bound
  // for that predictor, on the same images and noise, is the reference a trained model must beat.
  const Denoiser zero = [](const torch::Tensor& x, const torch::Tensor&) {
    return torch::zeros_like(x);
  };
  NllParts parts;
  for (int64_t begin = 0; begin < n; begin += o.batch) {
    const int64_t B = std::min(o.batch, n - begin);
    auto x0 = to_model_range(data.images.slice(0, begin, begin + B)).to(device);
    torch::Tensor labels;
    if (model->config().num_classes > 0) labels = data.labels.slice(0, begin, begin + B).to(device);
    const uint64_t seed = o.seed + static_cast<uint64_t>(begin);
    auto bound = variational_bound(diffusion, conditioned(model, labels), x0, o.subset, seed,
                                   [&](int64_t done, int64_t total) {
                                     if (o.progress)
                                       o.progress(begin + double(B) * done / total, done, total);
                                   });
    parts.add(bound, variational_bound(diffusion, zero, x0, o.subset, seed), diffusion.timesteps());
  }
  return parts.report(n, o.subset, diffusion.timesteps());
}

namespace {

FeatureStats reference_stats(const torch::Tensor& features, const std::string& path,
                             std::ostream& log) {
  std::error_code ec;
  if (path.empty() || !std::filesystem::exists(path, ec)) {
    FeatureStats stats = feature_stats(features);
    if (!path.empty()) save_feature_stats(path, stats);
    return stats;
  }
  FeatureStats stats = load_feature_stats(path);
  if (features.size(1) != stats.mean.size(0)) {
    throw Error(path + ": reference statistics file holds " + std::to_string(stats.mean.size(0)) +
                "-dimensional statistics, the feature network gives " +
                std::to_string(features.size(1)) + "; delete the file to recompute it");
  }
  log << "fid: reference statistics from " << path << "\n";
  return stats;
}

}  // namespace

FidReport evaluate_fid(UNet& model, const GaussianDiffusion& diffusion, FeatureNetwork& network,
                       const Dataset& data, int64_t images, const GenerateOptions& g,
                       const std::string& ref_stats, std::ostream& log) {
  c10::InferenceMode inference;
  auto reference_features =
      network.features(to_model_range(data.images.slice(0, 0, images)), g.batch);
  const FeatureStats reference = reference_stats(reference_features, ref_stats, log);
  auto sample_features = network.features(generate(model, diffusion, g), g.batch);
  FidReport r;
  r.fid = frechet_distance(feature_stats(sample_features), reference);
  r.kid_subset_size =
      std::min<int64_t>(1000, std::min(sample_features.size(0), reference_features.size(0)));
  r.kid = kernel_inception_distance(sample_features, reference_features, 100, r.kid_subset_size,
                                    g.seed);
  r.feature_dim = sample_features.size(1);
  r.reference_images = reference.count;
  return r;
}

ClassifierScores evaluate_classifier(UNet& model, const GaussianDiffusion& diffusion,
                                     Classifier& classifier, const Dataset& data,
                                     const GenerateOptions& g) {
  c10::InferenceMode inference;
  torch::Tensor requested;
  if (g.per_class > 0)
    requested = torch::div(torch::arange(g.n, torch::kLong), g.per_class, "floor");
  auto samples = generate(model, diffusion, g).cpu();
  const bool conditional = model->config().num_classes > 0;
  return classifier_scores(classifier, samples, requested, to_model_range(data.images),
                           conditional ? data.labels : torch::Tensor(), g.batch);
}

}  // namespace ddpm
