#include <filesystem>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ddpm/base/atomic_file.h"
#include "ddpm/base/error.h"
#include "ddpm/base/progress.h"
#include "ddpm/base/stopwatch.h"
#include "ddpm/cli/commands.h"
#include "ddpm/data/image_folder.h"
#include "ddpm/evaluation/evaluation.h"
#include "ddpm/inference/generation.h"
#include "ddpm/inference/inference.h"
#include "ddpm/io/checkpoint.h"
#include "ddpm/sampling/samplers.h"

namespace ddpm {

namespace {

// At most this many generated samples for FID and the classifier scores.
constexpr int64_t kMaxEvalSamples = 100000;

void add_eval_options(cxxopts::Options& options) {
  options.add_options()("ckpt", "checkpoint file", cxxopts::value<std::string>())(
      "data", "held-out image folder", cxxopts::value<std::string>())(
      "nll", "compute the bound in bits/dim (the default)")(
      "subset", "evaluate this many stratified timesteps and scale up (0 = all T)",
      cxxopts::value<int64_t>()->default_value("0"))("max-images",
                                                     "use at most this many images (0 = all)",
                                                     cxxopts::value<int64_t>()->default_value("0"))(
      "batch", "images per forward pass", cxxopts::value<int64_t>()->default_value("64"))(
      "seed", "seed of the x_t draws", cxxopts::value<uint64_t>()->default_value("0"))(
      "raw", "evaluate the raw training weights instead of the EMA weights")(
      "fid", "FID and KID of generated samples against --data (needs --features)")(
      "features",
      "TorchScript feature network for FID/KID (e.g. Inception-v3 inception-2015-12-05.pt)",
      cxxopts::value<std::string>())(
      "features-size",
      "resize images to this square size for the feature network (0 = as they are)",
      cxxopts::value<int64_t>()->default_value("299"))(
      "num", "FID: number of generated samples (also --n)",
      cxxopts::value<int64_t>()->default_value("10000"))(
      "sampler",
      "FID and classifier: ddpm, ddim, dpmpp2m or heun (default: the config's, as ddpm sample)",
      cxxopts::value<std::string>())("steps",
                                     "FID and classifier: sampler steps (default: the config's)",
                                     cxxopts::value<int64_t>())(
      "classifier",
      "TorchScript classifier of the data set (scripts/quality/fashion_classifier.py): classifier "
      "FID against --data with its real-vs-real floor, class accuracy of per-class samples, mean "
      "confidence",
      cxxopts::value<std::string>())(
      "guidance", "classifier: guidance weight of the samples (default: the config's)",
      cxxopts::value<double>())(
      "ref-stats",
      "FID: reference statistics file; read if it exists, else computed from --data and "
      "written",
      cxxopts::value<std::string>())("report",
                                     "JSON report path (default: eval.json beside the checkpoint)",
                                     cxxopts::value<std::string>());
  add_guidance_interval_option(options);
}

// What the flags ask for, checked before any work.
struct EvalRequest {
  bool nll = false, fid = false, classifier = false;
  int64_t subset = 0, max_images = 0;
};

EvalRequest check_eval_flags(const cxxopts::ParseResult& args, const cxxopts::Options& options) {
  EvalRequest r;
  r.fid = args.count("fid") > 0;
  r.classifier = args.count("classifier") > 0;
  r.nll = args.count("nll") > 0 || (!r.fid && !r.classifier);
  if (r.fid && !args.count("features")) {
    throw Error(
        "--fid needs --features FILE: a TorchScript feature network, e.g. the Inception-v3 "
        "'inception-2015-12-05.pt' that clean-fid and StyleGAN's metrics download; FID "
        "numbers are only comparable with the same network");
  }
  if (!args.count("data")) throw UsageError("give --data FOLDER (held-out images)", options.help());
  if (r.fid || r.classifier) flag_in_range<int64_t>(args, "num", 2, kMaxEvalSamples);
  flag_in_range<int64_t>(args, "features-size", 0, 1024, " (0 = as they are)");
  r.subset = args["subset"].as<int64_t>();
  r.max_images = args["max-images"].as<int64_t>();
  if (r.max_images < 0)
    throw Error("--max-images " + std::to_string(r.max_images) + ": must be non-negative");
  return r;
}

// The checkpoint's config with the flags that stand for config keys, validated as a config is.
Config eval_config(const cxxopts::ParseResult& args, const Checkpoint& ckpt, const EvalRequest& r) {
  Config config = ckpt.meta().config;
  runtime_flags_to_config(args, config);
  config.sample.batch = args["batch"].as<int64_t>();
  if (args.count("sampler")) {
    config.sample.sampler =
        parse_choice<Sampler>(args["sampler"].as<std::string>(), "--sampler: sample.sampler");
  }
  if (args.count("steps")) {
    config.sample.steps = flag_in_range<int64_t>(args, "steps", 1, config.diffusion.timesteps);
  }
  if (args.count("guidance")) config.sample.guidance = args["guidance"].as<double>();
  guidance_interval_flag(args, config);
  auto flags = kRuntimeFlags;
  flags.insert(flags.end(), {{"--batch", "sample.batch"},
                             {"--sampler", "sample.sampler"},
                             {"--steps", "sample.steps"},
                             {"--guidance", "sample.guidance"},
                             {"--guidance-interval", "sample.guidance_interval"}});
  validate_flags(config, flags);
  flag_in_range<int64_t>(args, "subset", 0, config.diffusion.timesteps, " (0 = all timesteps)");
  return config;
}

// Everything the sections share.
struct EvalContext {
  const cxxopts::ParseResult& args;
  const Config& config;
  InferenceModel& m;
  const Dataset& data;
  int64_t n;  // images of --data used
  torch::Device device;
  nlohmann::json& report;
  std::ostringstream& table;
};

void nll_section(EvalContext& c, const EvalRequest& r) {
  const Stopwatch watch;
  ProgressLine progress(std::cerr, stderr_is_terminal());
  NllOptions o;
  o.images = c.n;
  o.subset = r.subset;
  o.batch = c.config.sample.batch;
  o.seed = c.args["seed"].as<uint64_t>();
  o.progress = [&](double images, int64_t done, int64_t total) {
    if (!progress.terminal() && done != total) return;
    const double seconds = watch.seconds();
    std::ostringstream line;
    line << "bits/dim: " << std::fixed << std::setprecision(1) << images << "/" << c.n
         << " images | timestep " << done << "/" << total << " | "
         << images / std::max(seconds, 1e-9) << " img/s";
    progress.update(line.str());
  };
  const NllReport b = evaluate_nll(c.m.model, c.m.diffusion, c.data, o, c.device);
  progress.end();
  const std::vector<double> q(b.middle_by_quartile.begin(), b.middle_by_quartile.end());
  c.report["timesteps"] = c.m.diffusion.timesteps();
  c.report["timesteps_evaluated"] = b.timesteps_evaluated;
  c.report["estimate"] = b.estimate;
  c.report["bits_per_dim"] = {{"total", b.total},
                              {"standard_error", b.standard_error},
                              {"prior_L_T", b.prior},
                              {"decoder_L_0", b.decoder},
                              {"middle_sum", b.middle},
                              {"middle_by_quartile_of_t", q},
                              {"untrained_model", b.untrained},
                              {"improvement_over_untrained", b.untrained - b.total}};
  c.table << "bits/dim    " << b.total << " ± " << b.standard_error
          << (b.estimate ? " (estimate from " + std::to_string(b.timesteps_evaluated - 1) +
                               " stratified timesteps)"
                         : "")
          << "\n"
          << "  prior L_T " << b.prior << "\n"
          << "  decoder L_0 " << b.decoder << "\n"
          << "  L_1..L_T-1 by quartile of t: " << q[0] << " " << q[1] << " " << q[2] << " " << q[3]
          << "\n"
          << "untrained   " << b.untrained << " (an untrained model, same images and noise: "
          << (b.total < b.untrained ? std::to_string(b.untrained - b.total) + " bits/dim better)"
                                    : "this checkpoint is no better)")
          << "\n";
}

// Prints "fid: sampled K/N images (R img/s)" after each batch.
std::function<void(int64_t, int64_t, int64_t, int64_t)> batch_counter(int64_t batch) {
  const Stopwatch watch;
  return [watch, batch](int64_t done, int64_t total, int64_t step, int64_t steps) {
    if (step != steps) return;
    const double seconds = watch.seconds();
    const int64_t images = std::min(total, done + batch);
    std::cerr << "fid: sampled " << images << "/" << total << " images (" << std::setprecision(1)
              << std::fixed << images / std::max(seconds, 1e-9) << " img/s)\n";
  };
}

void fid_section(EvalContext& c) {
  FeatureNetwork network(c.args["features"].as<std::string>(), c.device,
                         c.args["features-size"].as<int64_t>());
  GenerateOptions g =
      every_class_options(c.config, c.args["num"].as<int64_t>(), c.args["seed"].as<uint64_t>());
  g.progress = batch_counter(g.batch);
  const int64_t steps = sampler_steps(g.sampler, c.m.diffusion.timesteps());
  const std::string ref = c.args.count("ref-stats") ? c.args["ref-stats"].as<std::string>() : "";
  const FidReport f =
      evaluate_fid(c.m.model, c.m.diffusion, network, c.data, c.n, g, ref, std::cerr);
  c.report["fid"] = {{"fid", f.fid},
                     {"kid", f.kid},
                     {"samples", g.n},
                     {"sampler", choice_name(g.sampler.sampler)},
                     {"steps", steps},
                     {"features", c.args["features"].as<std::string>()},
                     {"feature_dim", f.feature_dim},
                     {"reference_images", f.reference_images},
                     {"kid_subset_size", f.kid_subset_size}};
  c.table << "FID         " << f.fid << " (" << g.n << " samples, "
          << choice_name(g.sampler.sampler) << " " << steps << " steps, vs " << f.reference_images
          << " reference images)\n"
          << "KID         " << f.kid << "\n";
}

// Per requested class: a line of the table each, and an object (class name → accuracy) in the
// report.
void print_class_accuracy(EvalContext& c, const std::vector<double>& accuracy) {
  auto by_class = nlohmann::json::object();
  for (size_t k = 0; k < accuracy.size(); ++k) {
    if (accuracy[k] < 0) continue;
    const std::string name =
        k < c.data.class_names.size() ? c.data.class_names[k] : "class " + std::to_string(k);
    by_class[name] = accuracy[k];
    c.table << "  " << name << ": " << accuracy[k] << "\n";
  }
  c.report["classifier"]["class_accuracy_by_class"] = by_class;
}

// How the classifier was trained, from the record scripts/*_classifier.py store in it, into the
// table and the report. A module without one may be a Fashion-MNIST classifier from before the
// demo stopped training with flips, whose scores are not the ones docs/results.md reports.
void report_classifier_record(EvalContext& c, const Classifier& classifier) {
  const std::string& record = classifier.record();
  c.report["classifier"]["record"] =
      record.empty() ? nlohmann::json(nullptr) : nlohmann::json::parse(record);
  if (!record.empty()) {
    c.table << "classifier  " << describe_classifier_record(record) << "\n";
    return;
  }
  std::cerr << "warning: classifier " << c.args["classifier"].as<std::string>()
            << " has no training record (scripts/*_classifier.py store one since 2026-11-24); "
               "a Fashion-MNIST one that old was trained with flips: rebuild it with "
               "scripts/quality/fashion_classifier.py to score as docs/results.md does\n";
}

// --classifier: samples (for class-conditional models the same number of every class, with the
// config's guidance) scored by a classifier of the data set against the --data folder.
void classifier_section(EvalContext& c) {
  Classifier classifier(c.args["classifier"].as<std::string>(), c.device);
  const GenerateOptions g =
      every_class_options(c.config, c.args["num"].as<int64_t>(), c.args["seed"].as<uint64_t>());
  std::cerr << "classifier: sampling " << g.n << " images (" << choice_name(g.sampler.sampler)
            << ")\n";
  const auto s = evaluate_classifier(c.m.model, c.m.diffusion, classifier, c.data, g);
  const double ratio = s.fid / std::max(s.fid_floor, 1e-12);
  c.report["classifier"] = {{"classifier", c.args["classifier"].as<std::string>()},
                            {"samples", s.samples},
                            {"sampler", choice_name(g.sampler.sampler)},
                            {"steps", sampler_steps(g.sampler, c.m.diffusion.timesteps())},
                            {"guidance", g.guidance},
                            {"guidance_interval", g.guidance_interval},
                            {"fid", s.fid},
                            {"fid_real_floor", s.fid_floor},
                            {"fid_over_floor", ratio},
                            {"class_accuracy", s.accuracy},
                            {"real_class_accuracy", s.real_accuracy},
                            {"confidence", s.confidence}};
  c.table << "clf FID     " << s.fid << " (real vs real: " << s.fid_floor << ", ratio " << ratio
          << "; " << s.samples << " samples, " << choice_name(g.sampler.sampler) << ", guidance "
          << g.guidance
          << (g.guidance_interval.empty()
                  ? ""
                  : " at sigma in " + nlohmann::json(g.guidance_interval).dump())
          << ")\n";
  if (s.accuracy >= 0) {
    c.table << "class acc   " << s.accuracy << " (real images: " << s.real_accuracy << ")\n";
    print_class_accuracy(c, s.class_accuracy);
  }
  c.table << "confidence  " << s.confidence << "\n";
  report_classifier_record(c, classifier);
}

void write_report(const cxxopts::ParseResult& args, const std::string& ckpt_path,
                  const nlohmann::json& report, const std::ostringstream& table) {
  const std::string path =
      args.count("report")
          ? args["report"].as<std::string>()
          : (std::filesystem::path(ckpt_path).parent_path() / "eval.json").string();
  const std::string text = report.dump(2) + "\n";
  write_file_atomically(path, text.data(), text.size());
  std::cout << table.str() << "report      " << path << "\n";
}

}  // namespace

int command_eval(int argc, char** argv) {
  cxxopts::Options options(argv[0],
                           "Evaluate a checkpoint: negative log-likelihood in bits/dim from the "
                           "variational bound (Ho et al. 2020) on a held-out image folder.");
  add_eval_options(options);
  cxxopts::ParseResult args;
  if (!parse_checkpoint_command(options, argc, argv, args)) return 0;
  const EvalRequest request = check_eval_flags(args, options);
  const std::string ckpt_path = args["ckpt"].as<std::string>();
  const Checkpoint ckpt = Checkpoint::open(ckpt_path);
  const Config config = eval_config(args, ckpt, request);
  const torch::Device device = start_runtime(config);
  const Weights weights = args.count("raw") ? Weights::raw : Weights::ema;
  InferenceModel m = load_for_inference(ckpt, weights, device);
  const std::string folder = args["data"].as<std::string>();
  const Dataset data =
      load_image_folder(folder,
                        {config.model.image_size, config.model.in_channels,
                         config.model.num_classes > 0, config.data.disk_cache, "--data"},
                        std::cerr);
  const int64_t n =
      request.max_images > 0 ? std::min(request.max_images, data.size()) : data.size();

  nlohmann::json report = {{"checkpoint", ckpt_path},
                           {"step", ckpt.meta().step},
                           {"weights", weights_part(weights)},
                           {"data", folder},
                           {"images", n}};
  std::ostringstream table;
  table << std::fixed << std::setprecision(4) << "checkpoint  " << ckpt_path << " (step "
        << ckpt.meta().step << ", " << weights_part(weights) << " weights)\n"
        << "images      " << n << " from " << folder << "\n";
  EvalContext context{args, config, m, data, n, device, report, table};
  if (request.nll) nll_section(context, request);
  if (request.fid) fid_section(context);
  if (request.classifier) classifier_section(context);
  write_report(args, ckpt_path, report, table);
  return 0;
}

}  // namespace ddpm
