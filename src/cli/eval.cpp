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
#include "ddpm/classifier.h"
#include "ddpm/commands.h"
#include "ddpm/data.h"
#include "ddpm/error.h"
#include "ddpm/features.h"
#include "ddpm/generate.h"
#include "ddpm/likelihood.h"
#include "ddpm/metrics.h"
#include "ddpm/progress.h"
#include "ddpm/unet.h"

namespace ddpm {

namespace {

// At most this many generated samples for FID and the classifier scores.
constexpr int64_t kMaxEvalSamples = 100000;

// --classifier: samples (for class-conditional models the same number of every class, with the
// config's guidance) scored by a classifier of the data set against the --data folder.
void classifier_section(const cxxopts::ParseResult& args, UNet& model, const GaussianDiffusion& diffusion,
                        const Config& config, const Dataset& data, int64_t batch, torch::Device device,
                        nlohmann::json& report, std::ostringstream& table) {
  Classifier classifier(args["classifier"].as<std::string>(), device);
  GenerateOptions g;
  g.batch = batch;
  g.seed = args["seed"].as<uint64_t>();
  g.sampler = sampler_options(config.sample);
  if (args.count("sampler")) g.sampler.sampler = parse_choice<Sampler>(args["sampler"].as<std::string>(), "--sampler");
  if (args.count("steps")) g.sampler.steps = args["steps"].as<int64_t>();
  const int64_t classes = config.model.num_classes;
  const int64_t wanted = args["num"].as<int64_t>();
  torch::Tensor requested;
  if (classes > 0) {
    g.per_class = std::max<int64_t>(1, wanted / classes);
    g.n = g.per_class * classes;
    g.guidance = config.sample.guidance;
    requested = torch::div(torch::arange(g.n, torch::kLong), g.per_class, "floor");
  } else {
    g.n = wanted;
  }
  std::cerr << "classifier: sampling " << g.n << " images (" << choice_name(g.sampler.sampler) << ")\n";
  auto samples = generate(model, diffusion, g).cpu();
  auto real = data.images.to(torch::kFloat32).div(127.5).sub(1.0);
  const auto s = classifier_scores(classifier, samples, requested, real,
                                   classes > 0 ? data.labels : torch::Tensor(), batch);
  report["classifier"] = {{"classifier", args["classifier"].as<std::string>()},
                          {"samples", s.samples},
                          {"sampler", choice_name(g.sampler.sampler)},
                          {"steps", sampler_steps(g.sampler, diffusion.timesteps())},
                          {"guidance", g.guidance},
                          {"fid", s.fid},
                          {"fid_real_floor", s.fid_floor},
                          {"fid_over_floor", s.fid / std::max(s.fid_floor, 1e-12)},
                          {"class_accuracy", s.accuracy},
                          {"real_class_accuracy", s.real_accuracy},
                          {"confidence", s.confidence}};
  table << "clf FID     " << s.fid << " (real vs real: " << s.fid_floor << ", ratio "
        << s.fid / std::max(s.fid_floor, 1e-12) << "; " << s.samples << " samples, " << choice_name(g.sampler.sampler)
        << ", guidance " << g.guidance << ")\n";
  if (s.accuracy >= 0) {
    table << "class acc   " << s.accuracy << " (real images: " << s.real_accuracy << ")\n";
  }
  table << "confidence  " << s.confidence << "\n";
}

}  // namespace

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
      "fid", "FID and KID of generated samples against --data (needs --features)")(
      "features", "TorchScript feature network for FID/KID (e.g. Inception-v3 inception-2015-12-05.pt)",
      cxxopts::value<std::string>())(
      "features-size", "resize images to this square size for the feature network (0 = as they are)",
      cxxopts::value<int64_t>()->default_value("299"))(
      "num", "FID: number of generated samples (also --n)",
      cxxopts::value<int64_t>()->default_value("10000"))(
      "sampler", "FID: ddpm, ddim, dpmpp2m or heun", cxxopts::value<std::string>()->default_value("ddim"))(
      "steps", "FID: ddim/dpmpp2m steps", cxxopts::value<int64_t>()->default_value("100"))(
      "classifier", "TorchScript classifier of the data set (scripts/fashion_classifier.py): classifier "
      "FID against --data with its real-vs-real floor, class accuracy of per-class samples, mean "
      "confidence", cxxopts::value<std::string>())(
      "guidance", "classifier: guidance weight of the samples (default: the config's)",
      cxxopts::value<double>())(
      "ref-stats", "FID: reference statistics file; read if it exists, else computed from --data and "
      "written", cxxopts::value<std::string>())(
      "report", "JSON report path (default: eval.json beside the checkpoint)",
      cxxopts::value<std::string>());
  cxxopts::ParseResult args;
  if (!parse_checkpoint_command(options, argc, argv, args)) return 0;
  const bool want_fid = args.count("fid") > 0;
  const bool want_classifier = args.count("classifier") > 0;
  const bool want_nll = args.count("nll") > 0 || (!want_fid && !want_classifier);
  if (want_fid && !args.count("features")) {
    throw Error("--fid needs --features FILE: a TorchScript feature network, e.g. the Inception-v3 "
                "'inception-2015-12-05.pt' that clean-fid and StyleGAN's metrics download; FID "
                "numbers are only comparable with the same network");
  }
  if (!args.count("data")) throw UsageError("give --data FOLDER (held-out images)", options.help());
  const int64_t num = args["num"].as<int64_t>();
  if ((want_fid || want_classifier) && (num < 2 || num > kMaxEvalSamples)) {
    throw Error("--num " + std::to_string(num) + ": must be in [2, " + std::to_string(kMaxEvalSamples) + "]");
  }
  const int64_t features_size = args["features-size"].as<int64_t>();
  if (features_size < 0 || features_size > 1024) {
    throw Error("--features-size " + std::to_string(features_size) + ": must be in [0, 1024] (0 = as they are)");
  }
  const int64_t subset = args["subset"].as<int64_t>();
  const int64_t max_images = args["max-images"].as<int64_t>();
  if (max_images < 0) throw Error("--max-images " + std::to_string(max_images) + ": must be non-negative");

  const std::string ckpt_path = args["ckpt"].as<std::string>();
  Checkpoint ckpt = Checkpoint::open(ckpt_path);
  Config config = ckpt.meta().config;
  // The flags that stand for config keys are validated as the config's own values are.
  runtime_flags_to_config(args, config);
  config.sample.batch = args["batch"].as<int64_t>();
  if (args.count("guidance")) config.sample.guidance = args["guidance"].as<double>();
  auto flags = kRuntimeFlags;
  flags.insert(flags.end(), {{"--batch", "sample.batch"}, {"--guidance", "sample.guidance"}});
  validate_flags(config, flags);
  if (subset < 0 || subset > config.diffusion.timesteps) {
    throw Error("--subset " + std::to_string(subset) + ": must be in [0, " +
                std::to_string(config.diffusion.timesteps) + "] (0 = all timesteps)");
  }
  const int64_t batch = config.sample.batch;
  const torch::Device device = start_runtime(config);
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
               config.data.disk_cache, "--data"},
      std::cerr);
  const int64_t n = max_images > 0 ? std::min(max_images, data.size()) : data.size();

  c10::InferenceMode inference;
  nlohmann::json report = {{"checkpoint", ckpt_path},
                           {"step", ckpt.meta().step},
                           {"weights", weights},
                           {"data", folder},
                           {"images", n}};
  std::ostringstream table;
  table << std::fixed << std::setprecision(4) << "checkpoint  " << ckpt_path << " (step "
        << ckpt.meta().step << ", " << weights << " weights)\n"
        << "images      " << n << " from " << folder << "\n";
  if (want_nll) {
    const auto start = std::chrono::steady_clock::now();
    ProgressLine progress(std::cerr, stderr_is_terminal());
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
            if (!progress.terminal() && done != total) return;
            const double seconds =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            const double images = begin + static_cast<double>(B) * done / total;
            std::ostringstream line;
            line << "bits/dim: " << std::fixed << std::setprecision(1) << images << "/" << n
                 << " images | timestep " << done << "/" << total << " | "
                 << images / std::max(seconds, 1e-9) << " img/s";
            progress.update(line.str());
          });
      totals.push_back(bound.total().cpu().to(torch::kFloat64));
      // An untrained model outputs 0 in its objective (its output layer starts at zero): the same
      // bound for that predictor, on the same images and noise, is the reference a trained model
      // must beat.
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
    progress.end();
    auto total = torch::cat(totals);
    const double mean = total.mean().item<double>();
    const double sem = n > 1 ? total.std().item<double>() / std::sqrt(static_cast<double>(n)) : 0.0;
    auto avg = [](const std::vector<torch::Tensor>& v) { return torch::cat(v).mean().item<double>(); };
    std::vector<double> quartile_values;
    for (int q = 0; q < 4; ++q) quartile_values.push_back(quartiles[q].item<double>() / n);
    report["timesteps"] = diffusion.timesteps();
    report["timesteps_evaluated"] = static_cast<int64_t>(timesteps.size()) + 1;
    report["estimate"] = subset > 0 && subset < diffusion.timesteps() - 1;
    report["bits_per_dim"] = {{"total", mean},
                              {"standard_error", sem},
                              {"prior_L_T", avg(priors)},
                              {"decoder_L_0", avg(decoders)},
                              {"middle_sum", avg(middles)},
                              {"middle_by_quartile_of_t", quartile_values},
                              {"untrained_model", avg(untrained)},
                              {"improvement_over_untrained", avg(untrained) - mean}};
    table << "bits/dim    " << mean << " ± " << sem
          << (report["estimate"].get<bool>()
                  ? " (estimate from " + std::to_string(timesteps.size()) + " stratified timesteps)"
                  : "")
          << "\n"
          << "  prior L_T " << avg(priors) << "\n"
          << "  decoder L_0 " << avg(decoders) << "\n"
          << "  L_1..L_T-1 by quartile of t: " << quartile_values[0] << " " << quartile_values[1]
          << " " << quartile_values[2] << " " << quartile_values[3] << "\n"
          << "untrained   " << avg(untrained) << " (an untrained model, same images and noise: "
          << (mean < avg(untrained) ? std::to_string(avg(untrained) - mean) + " bits/dim better)"
                                    : "this checkpoint is no better)")
          << "\n";
  }
  if (want_fid) {
    FeatureNetwork network(args["features"].as<std::string>(), device,
                           features_size);
    FeatureStats reference;
    const std::string ref_path = args.count("ref-stats") ? args["ref-stats"].as<std::string>() : "";
    std::error_code ec;
    torch::Tensor reference_features = network.features(data.images.slice(0, 0, n).to(torch::kFloat32)
                                                             .div(127.5).sub(1.0), batch);
    if (!ref_path.empty() && std::filesystem::exists(ref_path, ec)) {
      reference = load_feature_stats(ref_path);
    if (reference_features.size(1) != reference.mean.size(0)) {
      throw Error("--ref-stats " + ref_path + ": holds " + std::to_string(reference.mean.size(0)) +
                  "-dimensional statistics, the feature network gives " +
                  std::to_string(reference_features.size(1)) + "; delete the file to recompute it");
    }
      std::cerr << "fid: reference statistics from " << ref_path << "\n";
    } else {
      reference = feature_stats(reference_features);
      if (!ref_path.empty()) save_feature_stats(ref_path, reference);
    }
    GenerateOptions g;
    g.n = args["num"].as<int64_t>();
    g.batch = batch;
    g.seed = args["seed"].as<uint64_t>();
    g.sampler.sampler = parse_choice<Sampler>(args["sampler"].as<std::string>(), "--sampler");
    g.sampler.steps = args["steps"].as<int64_t>();
    if (g.sampler.steps < 1 || g.sampler.steps > diffusion.timesteps()) {
      throw Error("--steps " + std::to_string(g.sampler.steps) + ": must be in [1, " +
                  std::to_string(diffusion.timesteps()) + "]");
    }
    const auto start = std::chrono::steady_clock::now();
    g.progress = [&](int64_t done, int64_t total, int64_t step, int64_t steps) {
      if (step != steps) return;
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const int64_t images = std::min(total, done + g.batch);
      std::cerr << "fid: sampled " << images << "/" << total << " images ("
                << std::setprecision(1) << std::fixed << images / std::max(seconds, 1e-9)
                << " img/s)\n";
    };
    auto samples = generate(model, diffusion, g);  // [num, C, H, W]
    auto sample_features = network.features(samples, batch);
    const double fid = frechet_distance(feature_stats(sample_features), reference);
    const int64_t subset_size = std::min<int64_t>(1000, std::min(sample_features.size(0),
                                                                 reference_features.size(0)));
    const double kid = kernel_inception_distance(sample_features, reference_features, 100,
                                                 subset_size, g.seed);
    report["fid"] = {{"fid", fid},
                     {"kid", kid},
                     {"samples", g.n},
                     {"sampler", choice_name(g.sampler.sampler)},
                     {"steps", g.sampler.steps},
                     {"features", args["features"].as<std::string>()},
                     {"feature_dim", sample_features.size(1)},
                     {"reference_images", reference.count},
                     {"kid_subset_size", subset_size}};
    table << "FID         " << fid << " (" << g.n << " samples, " << choice_name(g.sampler.sampler) << " "
          << g.sampler.steps << " steps, vs " << reference.count << " reference images)\n"
          << "KID         " << kid << "\n";
  }
  if (want_classifier) classifier_section(args, model, diffusion, config, data, batch, device, report, table);
  const std::string report_path =
      args.count("report") ? args["report"].as<std::string>()
                           : (std::filesystem::path(ckpt_path).parent_path() / "eval.json").string();
  const std::string text = report.dump(2) + "\n";
  write_file_atomically(report_path, text.data(), text.size());
  std::cout << table.str() << "report      " << report_path << "\n";
  return 0;
}

}  // namespace ddpm
