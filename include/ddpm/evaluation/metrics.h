// Sample-quality metrics over feature vectors: Fréchet distance (FID) and kernel inception distance
// (KID).
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <string>

namespace ddpm {

// Mean [D] and covariance [D, D] of features [N, D], in float64.
struct FeatureStats {
  torch::Tensor mean;
  torch::Tensor cov;
  int64_t count = 0;
};

FeatureStats feature_stats(const torch::Tensor& features);
// Weighted mean Σ wᵢxᵢ and covariance Σ wᵢ(xᵢ − μ)(xᵢ − μ)ᵀ / (1 − Σ wᵢ²) with the weights [N]
// normalised to sum 1 (reliability weights: equal weights give feature_stats exactly). Used to give
// each class of a reference set the share it has among the samples. `count` is the number of
// features with a positive weight.
FeatureStats feature_stats(const torch::Tensor& features, const torch::Tensor& weights);
void save_feature_stats(const std::string& path, const FeatureStats& stats);
FeatureStats load_feature_stats(const std::string& path);

// ‖μ1 − μ2‖² + Tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^½) (Heusel et al. 2017), with the square-root trace taken as
// Tr((√Σ1 Σ2 √Σ1)^½) from symmetric eigendecompositions: stable for singular covariances.
double frechet_distance(const FeatureStats& a, const FeatureStats& b);

// Unbiased MMD² with the cubic polynomial kernel k(x, y) = (xᵀy/D + 1)³ (Bińkowski et al. 2018),
// averaged over `subsets` random subsets of `subset_size` from each set.
double kernel_inception_distance(const torch::Tensor& a, const torch::Tensor& b, int64_t subsets,
                                 int64_t subset_size, uint64_t seed);

}  // namespace ddpm
