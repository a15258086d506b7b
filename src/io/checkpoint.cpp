#include "ddpm/io/checkpoint.h"

#include <ATen/Context.h>

#include <cstring>
#include <ctime>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>

#include "ddpm/base/atomic_file.h"
#include "ddpm/base/bytes.h"
#include "ddpm/base/compat.h"
#include "ddpm/base/crc.h"
#include "ddpm/base/error.h"
#include "ddpm/base/file_input.h"
#include "ddpm/base/json_input.h"
#include "ddpm/data/image_io.h"
#include "ddpm/io/tensor_table.h"

namespace ddpm {
namespace {

using nlohmann::json;
constexpr char kMagic[8] = {'D', 'D', 'P', 'M', 'C', 'K', 'P', 'T'};

std::string now_utc() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

json meta_to_json(const CheckpointMeta& m, const std::vector<std::string>& parts) {
  return json{
      {"format", "ddpm-checkpoint"},
      {"config", config_to_json(m.config)},
      {"step", m.step},
      {"data", {{"epoch", m.data.epoch}, {"index", m.data.index}, {"seed", m.data.seed}}},
      {"class_names", m.class_names},
      {"ema_updates", m.ema_updates},
      {"nonfinite_skipped", m.nonfinite_skipped},
      {"torch_version", m.torch_version.empty() ? compat::version_string() : m.torch_version},
      {"saved_at", m.saved_at.empty() ? now_utc() : m.saved_at},
      {"parts", parts}};
}

at::Generator default_generator(c10::DeviceType type) {
  return at::globalContext().defaultGenerator(c10::Device(type));
}

}  // namespace

std::vector<uint8_t> serialize_checkpoint(const CheckpointMeta& meta,
                                          const CheckpointParts& parts) {
  torch::serialize::OutputArchive root;
  std::vector<std::string> names;
  auto add = [&](const char* name, auto&& save) {
    torch::serialize::OutputArchive nested;
    save(nested);
    root.write(name, nested);
    names.emplace_back(name);
  };
  if (parts.model) add("model", [&](auto& a) { parts.model->save(a); });
  if (parts.ema) add("ema", [&](auto& a) { parts.ema->save(a); });
  if (parts.optimizer) add("optimizer", [&](auto& a) { parts.optimizer->save(a); });
  if (parts.rng) {
    add("rng", [&](auto& a) {
      auto cpu = default_generator(c10::kCPU);
      std::lock_guard<std::mutex> lock(cpu.mutex());
      a.write("cpu", cpu.get_state());
      if (at::globalContext().hasCUDA()) {
        auto cuda = default_generator(c10::kCUDA);
        std::lock_guard<std::mutex> lock_cuda(cuda.mutex());
        a.write("cuda", cuda.get_state());
      }
    });
  }
  std::vector<uint8_t> payload;
  root.save_to([&](const void* data, size_t size) -> size_t {
    const auto* p = static_cast<const uint8_t*>(data);
    payload.insert(payload.end(), p, p + size);
    return size;
  });
  const std::string meta_text = meta_to_json(meta, names).dump();

  std::vector<uint8_t> out(kMagic, kMagic + 8);
  append_le<uint32_t>(out, kCheckpointVersion);
  append_le<uint32_t>(out, 0);  // flags, reserved
  append_le<uint64_t>(out, meta_text.size());
  out.insert(out.end(), meta_text.begin(), meta_text.end());
  append_le<uint64_t>(out, payload.size());
  out.insert(out.end(), payload.begin(), payload.end());
  append_le<uint32_t>(out, crc32(out.data(), out.size()));
  return out;
}

void save_checkpoint(const std::string& path, const CheckpointMeta& meta,
                     const CheckpointParts& parts) {
  auto bytes = serialize_checkpoint(meta, parts);
  write_file_atomically(path, bytes.data(), bytes.size());
}

bool checkpoint_layout(const uint8_t* data, size_t size, CheckpointLayout& at) {
  auto u64 = [&](size_t pos) { return read_le<uint64_t>(data + pos); };
  if (size < 24) return false;
  at.meta_pos = 24;
  const uint64_t meta_len = u64(16);
  // After the metadata: the payload length (8), at least an empty payload, the CRC (4).
  if (meta_len > size - 24 || size - 24 - meta_len < 12) return false;
  at.meta_len = meta_len;
  at.payload_pos = 24 + meta_len + 8;
  const uint64_t payload_len = u64(24 + meta_len);
  if (payload_len > size - at.payload_pos || size - at.payload_pos - payload_len < 4) return false;
  at.payload_len = payload_len;
  at.crc_pos = at.payload_pos + payload_len;
  return true;
}

Checkpoint Checkpoint::open(const std::string& path) {
  return from_bytes(read_file_bytes(path, "checkpoint"), path);
}

namespace {

int64_t read_count(const json& m, const char* key, const std::string& where) {
  const json& v = m.at(key);
  if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<uint64_t>() > INT64_MAX) ||
      v.get<int64_t>() < 0) {
    throw Error(where + ": " + key + " = " + v.dump() + " is not a count (a non-negative integer)");
  }
  return v.get<int64_t>();
}

// Everything in the metadata is checked as if it came from a stranger: the embedded config exactly
// like a config file, every count for its range, the class list against the config.
CheckpointMeta read_meta(const std::string& text, const std::string& path,
                         std::vector<std::string>& parts) {
  const std::string where = path + ": checkpoint metadata";
  const std::string damaged = "; the file was damaged or edited, use an earlier snapshot";
  CheckpointMeta meta;
  try {
    json m = parse_json_input(text, where);
    meta.config = config_from_json(m.at("config"), path + ": embedded config");
    meta.step = read_count(m, "step", where);
    const json& data = m.at("data");
    meta.data.epoch = read_count(data, "epoch", where + " data");
    meta.data.index = read_count(data, "index", where + " data");
    meta.data.seed = data.at("seed").get<int64_t>();
    meta.class_names = m.at("class_names").get<std::vector<std::string>>();
    meta.ema_updates = read_count(m, "ema_updates", where);
    meta.nonfinite_skipped =
        m.contains("nonfinite_skipped") ? read_count(m, "nonfinite_skipped", where) : 0;
    meta.torch_version = m.value("torch_version", "");
    meta.saved_at = m.value("saved_at", "");
    parts = m.at("parts").get<std::vector<std::string>>();
  } catch (const json::exception& e) {
    throw Error(where + " is invalid (" + e.what() + ")" + damaged);
  }
  try {
    validate(meta.config);
  } catch (const Error& e) {
    throw Error(path + ": embedded config: " + e.what() + damaged);
  }
  const auto classes = static_cast<size_t>(meta.config.model.num_classes);
  if (!meta.class_names.empty() && meta.class_names.size() != classes) {
    throw Error(where + ": " + std::to_string(meta.class_names.size()) + " class names for " +
                "model.num_classes = " + std::to_string(classes) + damaged);
  }
  for (const auto& part : parts) {
    if (part != "model" && part != "ema" && part != "optimizer" && part != "rng") {
      throw Error(where + ": unknown part '" + part + "'" + damaged);
    }
  }
  return meta;
}

}  // namespace

Checkpoint Checkpoint::from_bytes(const std::vector<uint8_t>& b, const std::string& path) {
  if (b.empty()) throw Error(path + ": checkpoint is empty (0 bytes); use an earlier snapshot");
  if (b.size() < 8 || std::memcmp(b.data(), kMagic, 8) != 0) {
    throw Error(path +
                ": not a ddpm checkpoint (wrong magic bytes); give a .pt written by "
                "'ddpm train'");
  }
  const std::string truncated = path + ": checkpoint is truncated (" + std::to_string(b.size()) +
                                " bytes); it was not completely written, use an earlier snapshot";
  if (b.size() < 24) throw Error(truncated);
  const uint32_t version = read_le<uint32_t>(b.data() + 8);
  if (version > kCheckpointVersion) {
    throw Error(path + ": checkpoint format version " + std::to_string(version) +
                " is newer than this ddpm reads (" + std::to_string(kCheckpointVersion) +
                "); upgrade ddpm");
  }
  CheckpointLayout at;
  if (!checkpoint_layout(b.data(), b.size(), at)) throw Error(truncated);
  if (read_le<uint32_t>(b.data() + at.crc_pos) != crc32(b.data(), at.crc_pos)) {
    throw Error(path + ": checkpoint is corrupted (checksum mismatch); use an earlier snapshot");
  }
  Checkpoint ckpt;
  ckpt.path_ = path;
  const auto meta_begin = reinterpret_cast<const char*>(b.data()) + at.meta_pos;
  ckpt.meta_ = read_meta(std::string(meta_begin, at.meta_len), path, ckpt.parts_);
  const auto payload_begin = b.begin() + static_cast<std::ptrdiff_t>(at.payload_pos);
  ckpt.payload_ = std::make_shared<std::string>(
      payload_begin, payload_begin + static_cast<std::ptrdiff_t>(at.payload_len));
  return ckpt;
}

bool Checkpoint::has(const std::string& part) const {
  return std::find(parts_.begin(), parts_.end(), part) != parts_.end();
}

namespace {

// Adam's moments must match their parameters: LibTorch loads any shape and fails at the next step.
void check_adamw_state(torch::optim::AdamW& optimizer, const std::string& path) {
  auto& states = optimizer.state();
  for (auto& group : optimizer.param_groups()) {
    for (auto& p : group.params()) {
      auto it = states.find(compat::optimizer_state_key(p));
      if (it == states.end()) continue;  // not stepped yet
      auto* s = dynamic_cast<torch::optim::AdamWParamState*>(it->second.get());
      if (!s || s->step() < 0 || !s->exp_avg().defined() || s->exp_avg().sizes() != p.sizes() ||
          !s->exp_avg_sq().defined() || s->exp_avg_sq().sizes() != p.sizes()) {
        throw Error(path +
                    ": the optimizer state does not fit the model (a moment of the wrong "
                    "shape); use an earlier snapshot");
      }
    }
  }
}

torch::serialize::InputArchive open_part(const std::string& payload, const std::string& part,
                                         torch::Device device, const std::string& path) {
  torch::serialize::InputArchive root, nested;
  try {
    root.load_from(payload.data(), payload.size(), device);
  } catch (const c10::Error& e) {
    throw Error(path + ": the checkpoint's tensor archive cannot be read (" +
                first_line(e.what_without_backtrace()) + "); use an earlier snapshot");
  }
  if (!root.try_read(part, nested)) throw Error(path + ": checkpoint has no '" + part + "' part");
  return nested;
}

}  // namespace

void Checkpoint::load_module(const std::string& part, torch::nn::Module& module,
                             torch::Device device) const {
  auto archive = open_part(*payload_, part, device, path_);
  load_checked(module, archive, path_ + " ('" + part + "' weights)");
}

void Checkpoint::load_optimizer(torch::optim::AdamW& optimizer, torch::Device device) const {
  auto archive = open_part(*payload_, "optimizer", device, path_);
  try {
    optimizer.load(archive);
  } catch (const c10::Error& e) {
    throw Error(path_ + ": the optimizer state cannot be read (" +
                first_line(e.what_without_backtrace()) + "); use an earlier snapshot");
  }
  check_adamw_state(optimizer, path_);
}

void Checkpoint::restore_rng() const {
  auto archive = open_part(*payload_, "rng", torch::kCPU, path_);
  torch::Tensor state;
  if (!archive.try_read("cpu", state)) throw Error(path_ + ": checkpoint has no CPU random state");
  auto cpu = default_generator(c10::kCPU);
  try {
    std::lock_guard<std::mutex> lock(cpu.mutex());
    cpu.set_state(state);
  } catch (const c10::Error& e) {
    throw Error(path_ + ": the random state is invalid (" + first_line(e.what_without_backtrace()) +
                "); use an earlier snapshot");
  }
  if (at::globalContext().hasCUDA() && archive.try_read("cuda", state)) {
    auto cuda = default_generator(c10::kCUDA);
    std::lock_guard<std::mutex> lock(cuda.mutex());
    cuda.set_state(state);
  }
}

void check_same_model(const Config& checkpoint, const Config& config, const std::string& path) {
  const json a = config_to_json(checkpoint)["model"], b = config_to_json(config)["model"];
  for (auto it = a.begin(); it != a.end(); ++it) {
    if (b.contains(it.key()) && b[it.key()] != it.value()) {
      throw Error(path + ": checkpoint was trained with model." + it.key() + " = " +
                  it.value().dump() + " but the config has " + b[it.key()].dump() +
                  "; use the run's own config (" + "config.json in the run folder)");
    }
  }
}

}  // namespace ddpm
