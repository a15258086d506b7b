#include "ddpm/config.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <type_traits>

#include "ddpm/error.h"
#include "ddpm/file_input.h"
#include "ddpm/json_input.h"

namespace ddpm {
namespace {

using nlohmann::json;

// One list of (key, member) per section: every reader, writer and error message is driven from these.
template <class F>
void visit_fields(ModelConfig& c, F&& f) {
  f("image_size", c.image_size);
  f("in_channels", c.in_channels);
  f("base_channels", c.base_channels);
  f("channel_mults", c.channel_mults);
  f("num_res_blocks", c.num_res_blocks);
  f("attention_resolutions", c.attention_resolutions);
  f("num_heads", c.num_heads);
  f("dropout", c.dropout);
  f("num_groups", c.num_groups);
  f("num_classes", c.num_classes);
}
template <class F>
void visit_fields(DiffusionConfig& c, F&& f) {
  f("timesteps", c.timesteps);
  f("schedule", c.schedule);
  f("beta_start", c.beta_start);
  f("beta_end", c.beta_end);
  f("cosine_s", c.cosine_s);
  f("objective", c.objective);
  f("loss", c.loss);
  f("loss_weighting", c.loss_weighting);
  f("min_snr_gamma", c.min_snr_gamma);
  f("variance", c.variance);
}
template <class F>
void visit_fields(DataConfig& c, F&& f) {
  f("path", c.path);
  f("random_flip", c.random_flip);
  f("disk_cache", c.disk_cache);
  f("heldout_path", c.heldout_path);
}
template <class F>
void visit_fields(TrainConfig& c, F&& f) {
  f("run_dir", c.run_dir);
  f("steps", c.steps);
  f("batch_size", c.batch_size);
  f("grad_accum", c.grad_accum);
  f("lr", c.lr);
  f("adam_beta1", c.adam_beta1);
  f("adam_beta2", c.adam_beta2);
  f("adam_eps", c.adam_eps);
  f("weight_decay", c.weight_decay);
  f("warmup_steps", c.warmup_steps);
  f("grad_clip", c.grad_clip);
  f("ema_decay", c.ema_decay);
  f("ema_start", c.ema_start);
  f("ema_every", c.ema_every);
  f("ema_warmup_power", c.ema_warmup_power);
  f("p_uncond", c.p_uncond);
  f("log_every", c.log_every);
  f("checkpoint_every", c.checkpoint_every);
  f("snapshot_every", c.snapshot_every);
  f("keep_snapshots", c.keep_snapshots);
  f("preview_every", c.preview_every);
  f("preview_n", c.preview_n);
  f("eval_every", c.eval_every);
  f("eval_images", c.eval_images);
  f("eval_bpd_subset", c.eval_bpd_subset);
  f("max_nonfinite", c.max_nonfinite);
  f("seed", c.seed);
  f("threads", c.threads);
  f("device", c.device);
  f("precision", c.precision);
  f("tensorboard", c.tensorboard);
}
template <class F>
void visit_fields(SampleConfig& c, F&& f) {
  f("sampler", c.sampler);
  f("steps", c.steps);
  f("eta", c.eta);
  f("churn", c.churn);
  f("clip_denoised", c.clip_denoised);
  f("batch", c.batch);
  f("guidance", c.guidance);
}

// Calls f(section_name, section_struct) for every section.
template <class F>
void visit_sections(Config& c, F&& f) {
  f("model", c.model);
  f("diffusion", c.diffusion);
  f("data", c.data);
  f("train", c.train);
  f("sample", c.sample);
}

std::string short_json(const json& value) {
  std::string s = value.dump();
  return s.size() > 40 ? s.substr(0, 37) + "..." : s;
}

[[noreturn]] void type_error(const std::string& where, const char* expected, const json& got) {
  throw Error(where + ": expected " + expected + ", got " + short_json(got));
}

void read_value(const json& v, const std::string& where, int64_t& out) {
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
    type_error(where, "an integer below 2^63", v);
  } else if (v.is_number_integer()) {
    out = v.get<int64_t>();
  } else if (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>() &&
             std::abs(v.get<double>()) < 9e15) {
    out = static_cast<int64_t>(v.get<double>());
  } else {
    type_error(where, "an integer", v);
  }
}
void read_value(const json& v, const std::string& where, double& out) {
  if (!v.is_number()) type_error(where, "a number", v);
  out = v.get<double>();
}
void read_value(const json& v, const std::string& where, bool& out) {
  if (!v.is_boolean()) type_error(where, "true or false", v);
  out = v.get<bool>();
}
void read_value(const json& v, const std::string& where, std::string& out) {
  if (!v.is_string()) type_error(where, "a string", v);
  out = v.get<std::string>();
}
void read_value(const json& v, const std::string& where, std::vector<int64_t>& out) {
  if (!v.is_array()) type_error(where, "an array of integers", v);
  std::vector<int64_t> result;
  for (size_t i = 0; i < v.size(); ++i) {
    int64_t x = 0;
    read_value(v[i], where + "[" + std::to_string(i) + "]", x);
    result.push_back(x);
  }
  out = std::move(result);
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

[[noreturn]] void unknown_key(const std::string& prefix, const std::string& key,
                              const std::vector<std::string>& known) {
  // The initials of a long key name its abbreviation: "lerning_rate" -> "lr".
  std::string initials;
  for (size_t i = 0; i < key.size(); ++i) {
    if (i == 0 || key[i - 1] == '_') initials += key[i];
  }
  std::string best;
  size_t best_distance = std::string::npos;
  for (const auto& k : known) {
    size_t d = (initials.size() > 1 && initials == k) ? 0 : edit_distance(key, k);
    if (d < best_distance) best_distance = d, best = k;
  }
  std::string message = "unknown key " + prefix + key;
  if (!best.empty() && best_distance <= std::max<size_t>(3, key.size() / 2)) {
    message += " (did you mean " + prefix + best + "?)";
  } else {
    message += " (known keys: ";
    for (size_t i = 0; i < known.size(); ++i) message += (i ? ", " : "") + known[i];
    message += ")";
  }
  throw Error(message);
}

template <class Section>
void read_section(const json& obj, const std::string& name, Section& section) {
  if (!obj.is_object()) type_error(name, "an object", obj);
  std::vector<std::string> known;
  visit_fields(section, [&](const char* key, auto&) { known.emplace_back(key); });
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    bool found = false;
    visit_fields(section, [&](const char* key, auto& member) {
      if (it.key() == key) {
        read_value(it.value(), name + "." + key, member);
        found = true;
      }
    });
    if (!found) unknown_key(name + ".", it.key(), known);
  }
}

constexpr int64_t kMaxSteps = 1'000'000'000'000;
constexpr int64_t kMaxBatch = 65536;

template <class T>
void require(bool ok, const std::string& key, const T& value, const std::string& what) {
  if (!ok) {
    std::ostringstream os;
    os << key << " = " << value << ": " << what;
    throw Error(os.str());
  }
}

void require_one_of(const std::string& key, const std::string& value,
                    const std::vector<std::string>& allowed) {
  if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return;
  std::string list;
  for (size_t i = 0; i < allowed.size(); ++i) list += (i ? " | " : "") + allowed[i];
  throw Error(key + ": unknown value \"" + value + "\" (expected " + list + ")");
}

// Every real-valued setting reaches float32 tensors or optimizer options: it must be finite and fit.
void require_finite_numbers(const Config& config_in) {
  Config config = config_in;  // visitors take non-const references
  visit_sections(config, [&](const char* section, auto& fields) {
    visit_fields(fields, [&](const char* key, auto& member) {
      if constexpr (std::is_same_v<std::decay_t<decltype(member)>, double>) {
        require(std::isfinite(member) && std::abs(member) <= 3.4e38,
                std::string(section) + "." + key, member,
                "must be a finite number within float32's range (|x| <= 3.4e38)");
      }
    });
  });
}

}  // namespace

Config config_from_json(const json& root, const std::string& origin) {
  Config config;
  try {
    if (!root.is_object()) type_error("the config", "a JSON object", root);
    std::vector<std::string> sections = {"name"};
    visit_sections(config, [&](const char* name, auto&) { sections.emplace_back(name); });
    for (auto it = root.begin(); it != root.end(); ++it) {
      if (it.key() == "name") {
        read_value(it.value(), "name", config.name);
        continue;
      }
      bool found = false;
      visit_sections(config, [&](const char* name, auto& section) {
        if (it.key() == name) {
          read_section(it.value(), name, section);
          found = true;
        }
      });
      if (!found) unknown_key("", it.key(), sections);
    }
  } catch (const Error& e) {
    throw Error(origin + ": " + e.what());
  }
  return config;
}

Config config_from_json_text(const std::string& text, const std::string& origin) {
  return config_from_json(parse_json_input(text, origin), origin);
}

Config load_config(const std::string& path) {
  const std::string text = read_small_file(path, kMaxConfigBytes, "config file");
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
    throw Error(path + ": the config file is empty; see configs/ for examples");
  }
  json root = parse_json_input(text, path);
  Config config = config_from_json(root, path);
  if (!root.contains("name")) config.name = std::filesystem::path(path).stem().string();
  return config;
}

json config_to_json(const Config& config_in) {
  Config config = config_in;  // visitors take non-const references
  json root;
  root["name"] = config.name;
  visit_sections(config, [&](const char* name, auto& section) {
    json obj = json::object();
    visit_fields(section, [&](const char* key, auto& member) { obj[key] = member; });
    root[name] = obj;
  });
  return root;
}

std::string config_to_string(const Config& config) { return config_to_json(config).dump(2); }

void apply_override(Config& config, const std::string& assignment) {
  auto eq = assignment.find('=');
  auto dot = assignment.find('.');
  if (eq == std::string::npos || dot == std::string::npos || dot > eq) {
    throw Error("--set " + assignment + ": expected section.key=value, e.g. train.lr=1e-4");
  }
  std::string section = assignment.substr(0, dot);
  std::string key = assignment.substr(dot + 1, eq - dot - 1);
  std::string raw = assignment.substr(eq + 1);
  json value;
  try {
    value = json::parse(raw);
  } catch (const json::parse_error&) {
    value = raw;  // bare words are strings: train.device=cuda
  } catch (const json::out_of_range&) {
    throw Error("--set " + assignment + ": " + raw + " is too large for a number");
  }
  json patch = config_to_json(config);
  if (patch.contains(section) && !patch[section].is_object()) {
    throw Error("--set " + assignment + ": " + section +
                " is not a section (sections: model, diffusion, data, train, sample)");
  }
  // A string-typed key given a bare number stays a string (data.path=123).
  if (patch.contains(section) && patch[section].contains(key) &&
      patch[section][key].is_string() && !value.is_string()) {
    value = raw;
  }
  // Unknown sections and keys, and wrong types, are reported by the one JSON reader.
  patch[section][key] = value;
  config = config_from_json(patch, "--set");
}

void validate(const Config& c) {
  require_finite_numbers(c);
  const auto& m = c.model;
  // Upper bounds keep every product below (channels, levels, resolution) far from overflow; they
  // are orders of magnitude above any model that fits in memory.
  require(m.image_size >= 8 && m.image_size <= 8192, "model.image_size", m.image_size,
          "must be in [8, 8192]");
  require(m.in_channels == 1 || m.in_channels == 3, "model.in_channels", m.in_channels,
          "must be 1 (grey) or 3 (RGB)");
  require(m.base_channels > 0 && m.base_channels <= 8192, "model.base_channels",
          m.base_channels, "must be in [1, 8192]");
  require(!m.channel_mults.empty(), "model.channel_mults", "[]", "needs at least one level");
  require(m.channel_mults.size() <= 16, "model.channel_mults",
          std::to_string(m.channel_mults.size()) + " levels", "at most 16 are supported");
  require(m.num_groups > 0, "model.num_groups", m.num_groups, "must be positive");
  for (auto mult : m.channel_mults) {
    require(mult > 0 && mult <= 256, "model.channel_mults", mult,
            "every multiplier must be in [1, 256]");
    require((m.base_channels * mult) % m.num_groups == 0, "model.num_groups", m.num_groups,
            "must divide every level's channel count (base_channels x multiplier = " +
                std::to_string(m.base_channels * mult) + ")");
  }
  require(m.num_res_blocks > 0 && m.num_res_blocks <= 64, "model.num_res_blocks", m.num_res_blocks,
          "must be in [1, 64]");
  const int64_t factor = int64_t{1} << (m.channel_mults.size() - 1);
  require(m.image_size % factor == 0, "model.image_size", m.image_size,
          "must be divisible by " + std::to_string(factor) + " (2^(levels-1) for " +
              std::to_string(m.channel_mults.size()) + " channel_mults levels)");
  for (auto r : m.attention_resolutions) {
    bool reachable = false;
    for (int64_t res = m.image_size, i = 0; i < static_cast<int64_t>(m.channel_mults.size());
         ++i, res /= 2) {
      reachable |= (res == r);
    }
    require(reachable, "model.attention_resolutions", r,
            "the model never has this resolution (it has " + std::to_string(m.image_size) +
                " down to " + std::to_string(m.image_size / factor) + ", halving per level)");
  }
  require(m.num_heads > 0, "model.num_heads", m.num_heads, "must be positive");
  for (auto mult : m.channel_mults) {
    require((m.base_channels * mult) % m.num_heads == 0, "model.num_heads", m.num_heads,
            "must divide every level's channel count");
  }
  require(m.dropout >= 0 && m.dropout < 1, "model.dropout", m.dropout, "must be in [0, 1)");
  require(m.num_classes >= 0 && m.num_classes <= 100000, "model.num_classes", m.num_classes,
          "must be 0 (unconditional) or the number of classes (at most 100000)");

  const auto& d = c.diffusion;
  require(d.timesteps >= 1 && d.timesteps <= 1000000, "diffusion.timesteps", d.timesteps,
          "must be in [1, 1000000]");
  require_one_of("diffusion.schedule", d.schedule, {"linear", "cosine"});
  require(d.beta_start > 0 && d.beta_start < 1, "diffusion.beta_start", d.beta_start,
          "must be in (0, 1)");
  require(d.beta_end >= d.beta_start && d.beta_end < 1, "diffusion.beta_end", d.beta_end,
          "must be in [beta_start, 1)");
  require(d.cosine_s >= 0 && d.cosine_s < 1, "diffusion.cosine_s", d.cosine_s, "must be in [0, 1)");
  require_one_of("diffusion.objective", d.objective, {"eps", "x0", "v"});
  require_one_of("diffusion.loss", d.loss, {"l1", "l2"});
  require_one_of("diffusion.loss_weighting", d.loss_weighting, {"none", "min_snr"});
  require(d.min_snr_gamma > 0 && std::isfinite(d.min_snr_gamma), "diffusion.min_snr_gamma",
          d.min_snr_gamma, "must be a positive number (5 is the paper's)");
  require_one_of("diffusion.variance", d.variance, {"fixed_small", "fixed_large"});

  require(!c.data.path.empty(), "data.path", "\"\"", "must name a folder of images");

  const auto& t = c.train;
  // Counts that set work or memory have upper bounds, so that a typo is an error, not a hang.
  require(t.steps >= 0 && t.steps <= kMaxSteps, "train.steps", t.steps, "must be in [0, 10^12]");
  require(t.batch_size >= 1 && t.batch_size <= kMaxBatch, "train.batch_size", t.batch_size,
          "must be in [1, 65536]");
  require(t.grad_accum >= 1 && t.grad_accum <= kMaxBatch, "train.grad_accum", t.grad_accum,
          "must be in [1, 65536]");
  require(t.lr > 0 && t.lr <= 1, "train.lr", t.lr, "must be in (0, 1]");
  require(t.adam_beta1 >= 0 && t.adam_beta1 < 1, "train.adam_beta1", t.adam_beta1,
          "must be in [0, 1)");
  require(t.adam_beta2 >= 0 && t.adam_beta2 < 1, "train.adam_beta2", t.adam_beta2,
          "must be in [0, 1)");
  require(t.adam_eps > 0 && t.adam_eps <= 1, "train.adam_eps", t.adam_eps, "must be in (0, 1]");
  require(t.weight_decay >= 0, "train.weight_decay", t.weight_decay, "must be non-negative");
  require(t.warmup_steps >= 0 && t.warmup_steps <= kMaxSteps, "train.warmup_steps", t.warmup_steps,
          "must be in [0, 10^12]");
  require(t.ema_decay >= 0 && t.ema_decay <= 1, "train.ema_decay", t.ema_decay,
          "must be in [0, 1]");
  require(t.ema_start >= 0, "train.ema_start", t.ema_start, "must be non-negative");
  require(t.ema_every >= 1, "train.ema_every", t.ema_every, "must be at least 1");
  require(t.ema_warmup_power >= 0 && t.ema_warmup_power <= 10, "train.ema_warmup_power",
          t.ema_warmup_power, "must be in [0, 10]");
  require(t.p_uncond >= 0 && t.p_uncond < 1, "train.p_uncond", t.p_uncond, "must be in [0, 1)");
  require(t.log_every >= 1, "train.log_every", t.log_every, "must be at least 1");
  require(t.checkpoint_every >= 1, "train.checkpoint_every", t.checkpoint_every,
          "must be at least 1");
  require(t.snapshot_every >= 0, "train.snapshot_every", t.snapshot_every, "must be non-negative");
  require(t.keep_snapshots >= 1 && t.keep_snapshots <= 1000000, "train.keep_snapshots",
          t.keep_snapshots, "must be in [1, 1000000]");
  require(t.preview_every >= 0, "train.preview_every", t.preview_every, "must be non-negative");
  require(t.preview_n >= 1 && t.preview_n <= 1024, "train.preview_n", t.preview_n,
          "must be in [1, 1024]");
  require(t.eval_every >= 0, "train.eval_every", t.eval_every, "must be non-negative (0 = off)");
  require(t.eval_every == 0 || !c.data.heldout_path.empty(), "train.eval_every", t.eval_every,
          "needs data.heldout_path (a folder of held-out images)");
  require(t.eval_images >= 1 && t.eval_images <= 1000000, "train.eval_images", t.eval_images,
          "must be in [1, 1000000]");
  require(t.eval_bpd_subset >= 0 && t.eval_bpd_subset <= d.timesteps, "train.eval_bpd_subset",
          t.eval_bpd_subset, "must be in [0, diffusion.timesteps] (0 = loss only)");
  require(t.max_nonfinite >= 1, "train.max_nonfinite", t.max_nonfinite, "must be at least 1");
  require(t.threads >= 0 && t.threads <= 1024, "train.threads", t.threads,
          "must be in [0, 1024] (0 = all cores)");
  require(t.device == "auto" || t.device == "cpu" || t.device.rfind("cuda", 0) == 0,
          "train.device", t.device, "expected auto, cpu, cuda or cuda:N");
  require_one_of("train.precision", t.precision, {"fp32", "bf16"});

  const auto& s = c.sample;
  require_one_of("sample.sampler", s.sampler, {"ddpm", "ddim", "dpmpp2m", "heun"});
  require(s.steps >= 0 && s.steps <= d.timesteps, "sample.steps", s.steps,
          "must be in [0, " + std::to_string(d.timesteps) + "] (diffusion.timesteps; 0 = default)");
  require(s.eta >= 0 && s.eta <= 10, "sample.eta", s.eta, "must be in [0, 10]");
  require(s.churn >= 0 && s.churn <= 1000, "sample.churn", s.churn, "must be in [0, 1000]");
  require(s.batch >= 1 && s.batch <= kMaxBatch, "sample.batch", s.batch, "must be in [1, 65536]");
  require(s.guidance >= 0 && s.guidance <= 100, "sample.guidance", s.guidance, "must be in [0, 100]");
}

std::string run_dir(const Config& config) {
  return config.train.run_dir.empty() ? "runs/" + config.name : config.train.run_dir;
}

}  // namespace ddpm
