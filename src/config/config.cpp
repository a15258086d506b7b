#include "ddpm/config/config.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <type_traits>

#include "ddpm/base/error.h"
#include "ddpm/base/file_input.h"
#include "ddpm/base/json_input.h"

namespace ddpm {
namespace {

using nlohmann::json;

// One list of (key, member) per section: every reader, writer and error message is driven from
// these. Each visitor takes the section const or not.
template <class C, class Section>
using Is = std::enable_if_t<std::is_same_v<std::remove_const_t<C>, Section>, int>;

template <class C, class F, Is<C, ModelConfig> = 0>
void visit_fields(C& c, F&& f) {
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
template <class C, class F, Is<C, DiffusionConfig> = 0>
void visit_fields(C& c, F&& f) {
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
template <class C, class F, Is<C, DataConfig> = 0>
void visit_fields(C& c, F&& f) {
  f("path", c.path);
  f("random_flip", c.random_flip);
  f("class_balance", c.class_balance);
  f("disk_cache", c.disk_cache);
  f("heldout_path", c.heldout_path);
}
template <class C, class F, Is<C, TrainConfig> = 0>
void visit_fields(C& c, F&& f) {
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
  f("lr_schedule", c.lr_schedule);
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
  f("classifier_every", c.classifier_every);
  f("classifier", c.classifier);
  f("classifier_n", c.classifier_n);
  f("max_nonfinite", c.max_nonfinite);
  f("seed", c.seed);
  f("threads", c.threads);
  f("dist_timeout", c.dist_timeout);
  f("rank0_work_timeout", c.rank0_work_timeout);
  f("device", c.device);
  f("precision", c.precision);
  f("tensorboard", c.tensorboard);
}
template <class C, class F, Is<C, SampleConfig> = 0>
void visit_fields(C& c, F&& f) {
  f("sampler", c.sampler);
  f("steps", c.steps);
  f("spacing", c.spacing);
  f("eta", c.eta);
  f("churn", c.churn);
  f("clip_denoised", c.clip_denoised);
  f("batch", c.batch);
  f("guidance", c.guidance);
  f("guidance_interval", c.guidance_interval);
}

// Calls f(section_name, section_struct) for every section.
template <class C, class F, Is<C, Config> = 0>
void visit_sections(C& c, F&& f) {
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
template <class E, std::enable_if_t<std::is_enum_v<E>, int> = 0>
void read_value(const json& v, const std::string& where, E& out) {
  if (!v.is_string()) type_error(where, ("a string: " + choice_list<E>()).c_str(), v);
  out = parse_choice<E>(v.get<std::string>(), where);
}
template <class T>
void read_value(const json& v, const std::string& where, std::vector<T>& out) {
  if (!v.is_array()) {
    type_error(where, std::is_same_v<T, double> ? "an array of numbers" : "an array of integers",
               v);
  }
  std::vector<T> result;
  for (size_t i = 0; i < v.size(); ++i) {
    T x{};
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

// The "section.key" of a member of `config`, found in the field tables by address.
std::string key_of(const Config& config, const void* member) {
  std::string found;
  visit_sections(config, [&](const char* section, auto& fields) {
    visit_fields(fields, [&](const char* key, auto& m) {
      if (static_cast<const void*>(&m) == member) found = std::string(section) + "." + key;
    });
  });
  return found;
}

// Checks on one config: each failure is "KEY = VALUE: what", the key named by the field table.
class Rules {
 public:
  explicit Rules(const Config& config) : config_(config) {}
  template <class T>
  void require(const T& member, bool ok, const std::string& what) const {
    require_shown(member, ok, member, what);
  }
  // The same, showing `shown` as the value (one element of a list, or a description).
  template <class T, class V>
  void require_shown(const T& member, bool ok, const V& shown, const std::string& what) const {
    if (ok) return;
    std::ostringstream os;
    os << key_of(config_, &member) << " = " << shown << ": " << what;
    throw Error(os.str());
  }
  template <class T>
  void in_range(const T& member, T low, T high, const std::string& what) const {
    require(member, member >= low && member <= high, what);
  }

 private:
  const Config& config_;
};

// Every real-valued setting reaches float32 tensors or optimizer options: it must be finite and
// fit.
void require_finite_numbers(const Config& config) {
  const Rules rules(config);
  visit_sections(config, [&](const char*, auto& fields) {
    visit_fields(fields, [&](const char*, auto& member) {
      using T = std::decay_t<decltype(member)>;
      const char* what = "must be a finite number within float32's range (|x| <= 3.4e38)";
      if constexpr (std::is_same_v<T, double>) {
        rules.require(member, std::isfinite(member) && std::abs(member) <= 3.4e38, what);
      } else if constexpr (std::is_same_v<T, std::vector<double>>) {
        for (double x : member)
          rules.require_shown(member, std::isfinite(x) && std::abs(x) <= 3.4e38, x, what);
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

json config_to_json(const Config& config) {
  json root;
  root["name"] = config.name;
  visit_sections(config, [&](const char* name, auto& section) {
    json obj = json::object();
    visit_fields(section, [&](const char* key, auto& member) {
      if constexpr (std::is_enum_v<std::decay_t<decltype(member)>>) {
        obj[key] = choice_name(member);
      } else {
        obj[key] = member;
      }
    });
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
  if (patch.contains(section) && patch[section].contains(key) && patch[section][key].is_string() &&
      !value.is_string()) {
    value = raw;
  }
  // Unknown sections and keys, and wrong types, are reported by the one JSON reader.
  patch[section][key] = value;
  config = config_from_json(patch, "--set");
}

namespace {

void validate_model(const Rules& r, const ModelConfig& m) {
  // Upper bounds keep every product below (channels, levels, resolution) far from overflow; they
  // are orders of magnitude above any model that fits in memory.
  r.in_range(m.image_size, int64_t{8}, int64_t{8192}, "must be in [8, 8192]");
  r.require(m.in_channels, m.in_channels == 1 || m.in_channels == 3, "must be 1 (grey) or 3 (RGB)");
  r.in_range(m.base_channels, int64_t{1}, int64_t{8192}, "must be in [1, 8192]");
  r.require_shown(m.channel_mults, !m.channel_mults.empty(), "[]", "needs at least one level");
  r.require_shown(m.channel_mults, m.channel_mults.size() <= 16,
                  std::to_string(m.channel_mults.size()) + " levels", "at most 16 are supported");
  r.require(m.num_groups, m.num_groups > 0, "must be positive");
  for (auto mult : m.channel_mults) {
    r.require_shown(m.channel_mults, mult > 0 && mult <= 256, mult,
                    "every multiplier must be in [1, 256]");
    r.require(m.num_groups, (m.base_channels * mult) % m.num_groups == 0,
              "must divide every level's channel count (base_channels x multiplier = " +
                  std::to_string(m.base_channels * mult) + ")");
  }
  r.in_range(m.num_res_blocks, int64_t{1}, int64_t{64}, "must be in [1, 64]");
  const int64_t factor = int64_t{1} << (m.channel_mults.size() - 1);
  r.require(m.image_size, m.image_size % factor == 0,
            "must be divisible by " + std::to_string(factor) + " (2^(levels-1) for " +
                std::to_string(m.channel_mults.size()) + " channel_mults levels)");
  for (auto res : m.attention_resolutions) {
    bool reachable = false;
    for (int64_t x = m.image_size, i = 0; i < static_cast<int64_t>(m.channel_mults.size());
         ++i, x /= 2) {
      reachable |= (x == res);
    }
    r.require_shown(m.attention_resolutions, reachable, res,
                    "the model never has this resolution (it has " + std::to_string(m.image_size) +
                        " down to " + std::to_string(m.image_size / factor) +
                        ", halving per level)");
  }
  r.require(m.num_heads, m.num_heads > 0, "must be positive");
  for (auto mult : m.channel_mults) {
    r.require(m.num_heads, (m.base_channels * mult) % m.num_heads == 0,
              "must divide every level's channel count");
  }
  r.require(m.dropout, m.dropout >= 0 && m.dropout < 1, "must be in [0, 1)");
  r.in_range(m.num_classes, int64_t{0}, int64_t{100000},
             "must be 0 (unconditional) or the number of classes (at most 100000)");
}

void validate_diffusion(const Rules& r, const DiffusionConfig& d) {
  r.in_range(d.timesteps, int64_t{1}, int64_t{1000000}, "must be in [1, 1000000]");
  r.require(d.beta_start, d.beta_start > 0 && d.beta_start < 1, "must be in (0, 1)");
  r.require(d.beta_end, d.beta_end >= d.beta_start && d.beta_end < 1, "must be in [beta_start, 1)");
  r.require(d.cosine_s, d.cosine_s >= 0 && d.cosine_s < 1, "must be in [0, 1)");
  r.require(d.min_snr_gamma, d.min_snr_gamma > 0 && std::isfinite(d.min_snr_gamma),
            "must be a positive number (5 is the paper's)");
}

// Counts that set work or memory have upper bounds, so that a typo is an error, not a hang.
void validate_optimization(const Rules& r, const TrainConfig& t) {
  r.in_range(t.steps, int64_t{0}, kMaxSteps, "must be in [0, 10^12]");
  r.in_range(t.batch_size, int64_t{1}, kMaxBatch, "must be in [1, 65536]");
  r.in_range(t.grad_accum, int64_t{1}, kMaxBatch, "must be in [1, 65536]");
  r.require(t.lr, t.lr > 0 && t.lr <= 1, "must be in (0, 1]");
  r.require(t.adam_beta1, t.adam_beta1 >= 0 && t.adam_beta1 < 1, "must be in [0, 1)");
  r.require(t.adam_beta2, t.adam_beta2 >= 0 && t.adam_beta2 < 1, "must be in [0, 1)");
  r.require(t.adam_eps, t.adam_eps > 0 && t.adam_eps <= 1, "must be in (0, 1]");
  r.require(t.weight_decay, t.weight_decay >= 0, "must be non-negative");
  r.in_range(t.warmup_steps, int64_t{0}, kMaxSteps, "must be in [0, 10^12]");
  r.in_range(t.ema_decay, 0.0, 1.0, "must be in [0, 1]");
  r.require(t.ema_start, t.ema_start >= 0, "must be non-negative");
  r.require(t.ema_every, t.ema_every >= 1, "must be at least 1");
  r.in_range(t.ema_warmup_power, 0.0, 10.0, "must be in [0, 10]");
  r.require(t.p_uncond, t.p_uncond >= 0 && t.p_uncond < 1, "must be in [0, 1)");
  r.require(t.max_nonfinite, t.max_nonfinite >= 1, "must be at least 1");
}

void validate_outputs(const Rules& r, const TrainConfig& t, const Config& c) {
  r.require(t.log_every, t.log_every >= 1, "must be at least 1");
  r.require(t.checkpoint_every, t.checkpoint_every >= 1, "must be at least 1");
  r.require(t.snapshot_every, t.snapshot_every >= 0, "must be non-negative");
  r.in_range(t.keep_snapshots, int64_t{1}, int64_t{1000000}, "must be in [1, 1000000]");
  r.require(t.preview_every, t.preview_every >= 0, "must be non-negative");
  r.in_range(t.preview_n, int64_t{1}, int64_t{1024}, "must be in [1, 1024]");
  r.require(t.eval_every, t.eval_every >= 0, "must be non-negative (0 = off)");
  r.require(t.eval_every, t.eval_every == 0 || !c.data.heldout_path.empty(),
            "needs data.heldout_path (a folder of held-out images)");
  r.in_range(t.eval_images, int64_t{1}, int64_t{1000000}, "must be in [1, 1000000]");
  r.require(t.classifier_every, t.classifier_every >= 0, "must be non-negative (0 = off)");
  r.require_shown(
      t.classifier, t.classifier_every == 0 || !t.classifier.empty(), "\"\"",
      "needs a TorchScript classifier file when train.classifier_every > 0 (make one with "
      "scripts/quality/fashion_classifier.py)");
  r.require(t.classifier_every, t.classifier_every == 0 || !c.data.heldout_path.empty(),
            "needs data.heldout_path (the real images the samples are scored against)");
  const int64_t classes = std::max<int64_t>(c.model.num_classes, 1);
  r.in_range(t.classifier_n, classes, int64_t{65536},
             "must be in [" + std::to_string(classes) + ", 65536] (at least one sample per class)");
  r.in_range(t.eval_bpd_subset, int64_t{0}, c.diffusion.timesteps,
             "must be in [0, diffusion.timesteps] (0 = loss only)");
  r.in_range(t.threads, int64_t{0}, int64_t{1024}, "must be in [0, 1024] (0 = all cores)");
  r.in_range(t.dist_timeout, int64_t{1}, int64_t{86400}, "must be in [1, 86400] seconds");
  r.in_range(t.rank0_work_timeout, int64_t{0}, int64_t{604800},
             "must be in [0, 604800] seconds (0 = no limit)");
  r.require(t.device, t.device == "auto" || t.device == "cpu" || t.device.rfind("cuda", 0) == 0,
            "expected auto, cpu, cuda or cuda:N");
}

void validate_sample(const Rules& r, const SampleConfig& s, int64_t timesteps) {
  r.in_range(
      s.steps, int64_t{0}, timesteps,
      "must be in [0, " + std::to_string(timesteps) + "] (diffusion.timesteps; 0 = default)");
  r.in_range(s.eta, 0.0, 10.0, "must be in [0, 10]");
  r.in_range(s.churn, 0.0, 1000.0, "must be in [0, 1000]");
  r.in_range(s.batch, int64_t{1}, kMaxBatch, "must be in [1, 65536]");
  r.in_range(s.guidance, 0.0, 100.0, "must be in [0, 100]");
  const auto& interval = s.guidance_interval;
  r.require_shown(interval, valid_guidance_interval(interval), nlohmann::json(interval).dump(),
                  "must be [] (every step) or [sigma_min, sigma_max] with 0 <= sigma_min < "
                  "sigma_max, e.g. [0.28, 5.42]");
}

}  // namespace

void validate(const Config& c) {
  require_finite_numbers(c);
  const Rules rules(c);
  validate_model(rules, c.model);
  validate_diffusion(rules, c.diffusion);
  rules.require_shown(c.data.path, !c.data.path.empty(), "\"\"", "must name a folder of images");
  rules.in_range(c.data.class_balance, 0.0, 1.0,
                 "must be in [0, 1] (0: the data's class frequencies, 1: equal shares)");
  rules.require(c.data.class_balance, c.data.class_balance == 0 || c.model.num_classes > 0,
                "needs a class-conditional model (model.num_classes > 0, a folder per class)");
  validate_optimization(rules, c.train);
  validate_outputs(rules, c.train, c);
  validate_sample(rules, c.sample, c.diffusion.timesteps);
}

bool valid_guidance_interval(const std::vector<double>& interval) {
  return interval.empty() || (interval.size() == 2 && interval[0] >= 0 &&
                              interval[0] < interval[1] && std::isfinite(interval[1]));
}

std::string run_dir(const Config& config) {
  return config.train.run_dir.empty() ? "runs/" + config.name : config.train.run_dir;
}

}  // namespace ddpm
