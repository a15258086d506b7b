#include "ddpm/inference/generation.h"

#include <algorithm>

#include "ddpm/sampling/samplers.h"

namespace ddpm {

GenerateOptions generation_options(const Config& config, int64_t n, uint64_t seed) {
  GenerateOptions g;
  g.n = n;
  g.seed = seed;
  g.batch = config.sample.batch;
  g.sampler = sampler_options(config.sample);
  g.guidance = config.sample.guidance;
  g.guidance_interval = config.sample.guidance_interval;
  return g;
}

GenerateOptions every_class_options(const Config& config, int64_t n, uint64_t seed) {
  GenerateOptions g = generation_options(config, n, seed);
  const int64_t classes = config.model.num_classes;
  if (classes > 0) {
    draw_per_class(g, std::max<int64_t>(1, n / classes), classes);
  } else {
    g.guidance = 0.0;
    g.guidance_interval.clear();
  }
  return g;
}

}  // namespace ddpm
