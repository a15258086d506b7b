#include <unistd.h>

#include <c10/core/InferenceMode.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ddpm/atomic_file.h"
#include "ddpm/checkpoint.h"
#include "ddpm/commands.h"
#include "ddpm/data.h"
#include "ddpm/error.h"
#include "ddpm/likelihood.h"
#include "ddpm/runtime.h"
#include "ddpm/unet.h"

namespace ddpm {

int command_eval(int argc, char** argv) {
  cxxopts::Options options(argv[0],
                           "Evaluate a checkpoint: negative log-likelihood in bits/dim from the "
                           "variational bound (Ho et al. 2020) on a held-out image folder.");
  options.add_options()("ckpt", "checkpoint file", cxxopts::value<std::string>())(
      "data", "held-out image folder", cxxopts::value<std::string>())(
      "nll", "compute the bound in bits/dim (the default)")(
      "subset", "evaluate this many stratified timesteps and scale up (0 = all T)",
      cxxopts::value<int64_t>()->default_value("0"))(
      "max-images", "use at most this many images (0 = all)",
      cxxopts::value<int64_t>()->default_value("0"))(
      "batch", "images per forward pass", cxxopts::value<int64_t>()->default_value("64"))(
      "seed", "seed of the x_t draws", cxxopts::value<uint64_t>()->default_value("0"))(
      "raw", "evaluate the raw training weights instead of the EMA weights")(
      "report", "JSON report path (default: eval.json beside the checkpoint)",
      cxxopts::value<std::string>())(
      "device", "auto, cpu, cuda or cuda:N", cxxopts::value<std::string>()->default_value("auto"))(
      "threads", "CPU threads (0 = all cores)", cxxopts::value<int64_t>()->default_value("0"));
  cxxopts::ParseResult args;
  if (!parse_options(options, argc, argv, args)) return 0;
  if (!args.count("ckpt")) throw UsageError("give --ckpt FILE", options.help());
  if (!args.count("data")) throw UsageError("give --data FOLDER (held-out images)", options.help());
  const int64_t subset = args["subset"].as<int64_t>();
  const int64_t batch = args["batch"].as<int64_t>();
  const int64_t max_images = args["max-images"].as<int64_t>();
  if (subset < 0) throw Error("--subset " + std::to_string(subset) + ": must be non-negative");
  if (batch < 1) throw Error("--batch " + std::to_string(batch) + ": must be at least 1");
  if (max_images < 0) throw Error("--max-images must be non-negative");

  const std::string ckpt_path = args["ckpt"].as<std::string>();
  Checkpoint ckpt = Checkpoint::open(ckpt_path);
  const Config& config = ckpt.meta().config;
  configure_threads(args["threads"].as<int64_t>());
  const torch::Device device = pick_device(args["device"].as<std::string>());
  const std::string weights = args.count("raw") ? "model" : "ema";
  UNet model(config.model);
  model->to(device);
  ckpt.load_module(weights, *model, device);
  model->eval();
  GaussianDiffusion diffusion(config.diffusion);
  diffusion.to(device);

  const std::string folder = args["data"].as<std::string>();
  Dataset data = load_image_folder(
      folder, {config.model.image_size, config.model.in_channels, config.model.num_classes > 0,
               config.data.disk_cache},
      std::cerr);
  const int64_t n = max_images > 0 ? std::min(max_images, data.size()) : data.size();

  c10::InferenceMode inference;
  const auto start = std::chrono::steady_clock::now();
  const bool tty = isatty(STDERR_FILENO);
  std::vector<torch::Tensor> totals, priors, decoders, middles, untrained;
  std::vector<int64_t> timesteps;
  torch::Tensor quartiles = torch::zeros({4}, torch::kFloat64);
  for (int64_t begin = 0; begin < n; begin += batch) {
    const int64_t B = std::min(batch, n - begin);
    auto x0 = data.images.slice(0, begin, begin + B).to(torch::kFloat32).div(127.5).sub(1.0).to(device);
    torch::Tensor labels;
    if (config.model.num_classes > 0) labels = data.labels.slice(0, begin, begin + B).to(device);
    Denoiser denoiser = [&](const torch::Tensor& x, const torch::Tensor& t) {
      return model->forward(x, t, labels);
    };
    auto bound = variational_bound(
        diffusion, denoiser, x0, subset, args["seed"].as<uint64_t>() + static_cast<uint64_t>(begin),
        [&](int64_t done, int64_t total) {
          if (!tty && done != total) return;
          const double seconds =
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
          const double images = begin + static_cast<double>(B) * done / total;
          std::cerr << (tty ? "\r" : "") << "bits/dim: " << std::fixed << std::setprecision(1)
                    << images << "/" << n << " images | timestep " << done << "/" << total << " | "
                    << images / std::max(seconds, 1e-9) << " img/s" << (tty ? "\033[K" : "\n")
                    << std::flush;
        });
    totals.push_back(bound.total().cpu().to(torch::kFloat64));
    // An untrained model predicts ε = 0 (its output layer starts at zero): the same bound for that
    // predictor, on the same images and noise, is the reference a trained model must beat.
    Denoiser zero = [](const torch::Tensor& x, const torch::Tensor&) { return torch::zeros_like(x); };
    untrained.push_back(variational_bound(diffusion, zero, x0, subset,
                                          args["seed"].as<uint64_t>() + static_cast<uint64_t>(begin))
                            .total()
                            .cpu()
                            .to(torch::kFloat64));
    priors.push_back(bound.prior.cpu().to(torch::kFloat64));
    decoders.push_back(bound.decoder.cpu().to(torch::kFloat64));
    auto terms = bound.terms.cpu().to(torch::kFloat64);  // [B, K]
    middles.push_back(bound.middle().cpu().to(torch::kFloat64));
    for (size_t k = 0; k < bound.timesteps.size(); ++k) {
      const int64_t q = std::min<int64_t>(3, 4 * bound.timesteps[k] / diffusion.timesteps());
      quartiles[q] += terms.select(1, static_cast<int64_t>(k)).sum() * bound.weights[k];
    }
    timesteps = bound.timesteps;
  }
  if (tty) std::cerr << "\n";
  auto total = torch::cat(totals);
  const double mean = total.mean().item<double>();
  const double sem = n > 1 ? total.std().item<double>() / std::sqrt(static_cast<double>(n)) : 0.0;
  auto avg = [](const std::vector<torch::Tensor>& v) { return torch::cat(v).mean().item<double>(); };
  std::vector<double> quartile_values;
  for (int q = 0; q < 4; ++q) quartile_values.push_back(quartiles[q].item<double>() / n);

  nlohmann::json report = {
      {"checkpoint", ckpt_path},
      {"step", ckpt.meta().step},
      {"weights", weights},
      {"data", folder},
      {"images", n},
      {"timesteps", diffusion.timesteps()},
      {"timesteps_evaluated", static_cast<int64_t>(timesteps.size()) + 1},
      {"estimate", subset > 0 && subset < diffusion.timesteps() - 1},
      {"bits_per_dim",
       {{"total", mean},
        {"standard_error", sem},
        {"prior_L_T", avg(priors)},
        {"decoder_L_0", avg(decoders)},
        {"middle_sum", avg(middles)},
        {"middle_by_quartile_of_t", quartile_values},
        {"untrained_model", avg(untrained)},
        {"improvement_over_untrained", avg(untrained) - mean}}}};
  const std::string report_path =
      args.count("report") ? args["report"].as<std::string>()
                           : (std::filesystem::path(ckpt_path).parent_path() / "eval.json").string();
  const std::string text = report.dump(2) + "\n";
  write_file_atomically(report_path, text.data(), text.size());

  std::cout << std::fixed << std::setprecision(4) << "checkpoint  " << ckpt_path << " (step "
            << ckpt.meta().step << ", " << weights << " weights)\n"
            << "images      " << n << " from " << folder << "\n"
            << "bits/dim    " << mean << " ± " << sem << (report["estimate"] ? " (estimate from " +
                   std::to_string(timesteps.size()) + " stratified timesteps)" : "") << "\n"
            << "  prior L_T " << avg(priors) << "\n"
            << "  decoder L_0 " << avg(decoders) << "\n"
            << "  L_1..L_T-1 by quartile of t: " << quartile_values[0] << " " << quartile_values[1]
            << " " << quartile_values[2] << " " << quartile_values[3] << "\n"
            << "untrained   " << avg(untrained) << " (an untrained model, same images and noise: "
            << (mean < avg(untrained) ? std::to_string(avg(untrained) - mean) + " bits/dim better)"
                                      : "this checkpoint is no better)")
            << "\n"
            << "report      " << report_path << "\n";
  return 0;
}

}  // namespace ddpm
