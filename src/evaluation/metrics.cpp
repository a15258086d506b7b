#include "ddpm/evaluation/metrics.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/serialize.h>

#include "ddpm/base/error.h"
#include "ddpm/base/file_input.h"

namespace ddpm {

FeatureStats feature_stats(const torch::Tensor& features) {
  auto f = features.to(torch::kCPU, torch::kFloat64);  // [N, D]
  if (f.dim() != 2 || f.size(0) < 2) {
    throw Error("feature statistics need at least 2 feature vectors of shape [N, D]");
  }
  auto mean = f.mean(0);
  auto centered = f - mean;
  auto cov = centered.t().mm(centered) / static_cast<double>(f.size(0) - 1);  // [D, D]
  return {mean, cov, f.size(0)};
}

FeatureStats feature_stats(const torch::Tensor& features, const torch::Tensor& weights) {
  auto f = features.to(torch::kCPU, torch::kFloat64);  // [N, D]
  auto w = weights.to(torch::kCPU, torch::kFloat64).flatten();
  if (f.dim() != 2 || w.size(0) != f.size(0)) {
    throw Error("weighted feature statistics need features [N, D] and one weight per feature");
  }
  if (!torch::isfinite(w).all().item<bool>() || w.lt(0).any().item<bool>() ||
      w.sum().item<double>() <= 0) {
    throw Error("weighted feature statistics need finite weights >= 0 with a positive sum");
  }
  w = w / w.sum();
  const double effective = 1.0 - w.square().sum().item<double>();
  if (effective <= 1e-12) {
    throw Error(
        "weighted feature statistics need at least 2 feature vectors with a positive weight");
  }
  auto mean = (w.unsqueeze(1) * f).sum(0);
  auto centered = f - mean;
  auto cov = (centered * w.unsqueeze(1)).t().mm(centered) / effective;
  return {mean, cov, w.gt(0).sum().item<int64_t>()};
}

void save_feature_stats(const std::string& path, const FeatureStats& stats) {
  torch::serialize::OutputArchive archive;
  archive.write("mean", stats.mean);
  archive.write("cov", stats.cov);
  archive.write("count", torch::tensor(stats.count));
  archive.save_to(path);
}

FeatureStats load_feature_stats(const std::string& path) {
  check_input_file(path, "feature statistics file");
  const std::string bad =
      path + ": not a feature statistics file written by 'ddpm eval --ref-stats'";
  FeatureStats stats;
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    torch::Tensor count;
    archive.read("mean", stats.mean);
    archive.read("cov", stats.cov);
    archive.read("count", count);
    if (count.numel() != 1) throw Error(bad);
    stats.count = count.item<int64_t>();
  } catch (const c10::Error&) {
    throw Error(bad);
  }
  const auto& m = stats.mean;
  const auto& c = stats.cov;
  if (m.dim() != 1 || c.dim() != 2 || c.size(0) != m.size(0) || c.size(1) != m.size(0) ||
      stats.count < 2 || !m.is_floating_point() || !c.is_floating_point() ||
      !torch::isfinite(m).all().item<bool>() || !torch::isfinite(c).all().item<bool>()) {
    throw Error(bad + " (its mean, covariance or count is malformed); delete it to recompute it");
  }
  return stats;
}

namespace {
// Symmetric PSD square root via eigendecomposition (negative round-off eigenvalues clamped to 0).
torch::Tensor sqrt_psd(const torch::Tensor& m) {
  auto [values, vectors] = torch::linalg_eigh(0.5 * (m + m.t()));
  return vectors.mm(torch::diag(values.clamp_min(0).sqrt())).mm(vectors.t());
}
}  // namespace

double frechet_distance(const FeatureStats& a, const FeatureStats& b) {
  if (a.mean.sizes() != b.mean.sizes()) {
    throw Error("feature statistics have different dimensions (" + std::to_string(a.mean.size(0)) +
                " vs " + std::to_string(b.mean.size(0)) +
                "): were they made with the same network?");
  }
  auto diff = a.mean - b.mean;
  auto root_a = sqrt_psd(a.cov);
  auto [values, vectors] = torch::linalg_eigh(root_a.mm(b.cov).mm(root_a));
  const double trace_sqrt = values.clamp_min(0).sqrt().sum().item<double>();
  return diff.dot(diff).item<double>() + a.cov.trace().item<double>() +
         b.cov.trace().item<double>() - 2.0 * trace_sqrt;
}

double kernel_inception_distance(const torch::Tensor& a_in, const torch::Tensor& b_in,
                                 int64_t subsets, int64_t subset_size, uint64_t seed) {
  auto a = a_in.to(torch::kCPU, torch::kFloat64), b = b_in.to(torch::kCPU, torch::kFloat64);
  const int64_t m = std::min({subset_size, a.size(0), b.size(0)});
  if (m < 2) throw Error("KID needs at least 2 feature vectors in each set");
  const double d = static_cast<double>(a.size(1));
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto kernel = [d](const torch::Tensor& x, const torch::Tensor& y) {
    return (x.mm(y.t()) / d + 1).pow(3);
  };
  double total = 0;
  for (int64_t s = 0; s < subsets; ++s) {
    auto x = a.index_select(0, torch::randperm(a.size(0), gen, torch::kLong).slice(0, 0, m));
    auto y = b.index_select(0, torch::randperm(b.size(0), gen, torch::kLong).slice(0, 0, m));
    auto kxx = kernel(x, x), kyy = kernel(y, y), kxy = kernel(x, y);
    const double mm1 = static_cast<double>(m) * (m - 1);
    total += ((kxx.sum() - kxx.trace()) / mm1 + (kyy.sum() - kyy.trace()) / mm1 -
              2.0 * kxy.sum() / (static_cast<double>(m) * m))
                 .item<double>();
  }
  return total / static_cast<double>(subsets);
}

}  // namespace ddpm
