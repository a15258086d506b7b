// `ddpm sample`'s editing modes: --init (image-to-image with --strength, inpainting with --mask and
// RePaint's resampling) and --interpolate (a strip between two images or seeds).
#pragma once
#include <string>

#include "ddpm/cli/sample_common.h"

namespace ddpm {

// What one `ddpm sample` call works with, once its flags are read.
struct SampleRun {
  std::string ckpt_path;
  const Checkpoint& ckpt;
  Config config;  // the checkpoint's, with the sampling flags
  GenerateOptions g;
  Weights weights;
};

void add_editing_options(cxxopts::Options& options);
// True when the flags ask for an editing mode; throws for editing flags without their mode.
bool editing_requested(const cxxopts::ParseResult& args);
// Runs the editing mode asked for and writes its grid (and --individual files); returns the exit
// status.
int sample_edits(const cxxopts::ParseResult& args, SampleRun& run);
// --interpolate A,B (src/cli/sample_interpolate.cpp).
int sample_interpolation(const cxxopts::ParseResult& args, SampleRun& run, torch::Device device,
                         ProgressLine& progress);

}  // namespace ddpm
