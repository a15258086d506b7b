// The one way from a config to what to draw, shared by `ddpm sample`, both sections of `ddpm eval`
// and the training previews: the same sampler, steps, spacing, guidance and interval everywhere.
#pragma once
#include <cstdint>

#include "ddpm/config/config.h"
#include "ddpm/inference/generate.h"

namespace ddpm {

// n images from seed + i: the config's sample section (sampler, steps, η, churn, spacing,
// clipping, batch, guidance and its interval).
GenerateOptions generation_options(const Config& config, int64_t n, uint64_t seed);

// The same, as the previews and the scores draw: a class-conditional model draws n / classes (at
// least one) images of every class, class r in row r, with the config's guidance; an unconditional
// model draws n images, unguided.
GenerateOptions every_class_options(const Config& config, int64_t n, uint64_t seed);

}  // namespace ddpm
