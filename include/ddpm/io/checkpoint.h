// One self-describing checkpoint file: header, JSON metadata (config, step, data position,
// classes), a LibTorch archive (model, EMA, optimizer, RNG states) and a CRC-32, written
// atomically.
#pragma once
#include <torch/nn.h>
#include <torch/optim.h>
#include <torch/optim/adamw.h>
#include <torch/serialize.h>

#include <memory>
#include <string>
#include <vector>

#include "ddpm/config/config.h"
#include "ddpm/data/data_position.h"

namespace ddpm {

inline constexpr uint32_t kCheckpointVersion = 1;

struct CheckpointMeta {
  Config config;
  int64_t step = 0;
  DataPosition data;
  std::vector<std::string> class_names;
  int64_t ema_updates = 0;
  int64_t nonfinite_skipped = 0;
  std::string torch_version;
  std::string saved_at;  // ISO-8601 UTC
};

// What goes into a checkpoint besides the metadata. Null pointers are skipped.
struct CheckpointParts {
  torch::nn::Module* model = nullptr;
  torch::nn::Module* ema = nullptr;
  torch::optim::Optimizer* optimizer = nullptr;
  bool rng = true;  // the default CPU (and CUDA, when present) generators
};

// File layout: "DDPMCKPT", u32 version, u32 flags, u64 n, n bytes of JSON metadata, u64 m, m bytes
// of LibTorch archive, u32 CRC-32 of everything before it (little-endian).
struct CheckpointLayout {
  size_t meta_pos = 24, meta_len = 0;
  size_t payload_pos = 0, payload_len = 0;
  size_t crc_pos = 0;  // the CRC covers bytes [0, crc_pos)
};
// Where the sections lie according to the length fields, or false when they do not fit in
// `size` bytes (a truncated file). Checks neither the magic, the version nor the CRC.
bool checkpoint_layout(const uint8_t* data, size_t size, CheckpointLayout& layout);

// Serialises and writes atomically (temp file, fsync, rename).
void save_checkpoint(const std::string& path, const CheckpointMeta& meta,
                     const CheckpointParts& parts);
std::vector<uint8_t> serialize_checkpoint(const CheckpointMeta& meta, const CheckpointParts& parts);

class Checkpoint {
 public:
  // Reads and verifies the file; errors say what is wrong (missing, truncated, not a checkpoint,
  // newer format, corrupted) and what to do.
  static Checkpoint open(const std::string& path);
  // The same checks on bytes already in memory; `name` stands for the file in messages.
  static Checkpoint from_bytes(const std::vector<uint8_t>& bytes, const std::string& name);

  const CheckpointMeta& meta() const { return meta_; }
  const std::string& path() const { return path_; }
  bool has(const std::string& part) const;
  // Loads a module's parameters ("model" or "ema") onto `device`.
  void load_module(const std::string& part, torch::nn::Module& module, torch::Device device) const;
  void load_optimizer(torch::optim::AdamW& optimizer, torch::Device device) const;
  void restore_rng() const;

 private:
  std::string path_;
  CheckpointMeta meta_;
  std::shared_ptr<std::string> payload_;
  std::vector<std::string> parts_;
};

// Throws when the checkpoint's model section differs from `config`'s, naming the first difference.
void check_same_model(const Config& checkpoint, const Config& config, const std::string& path);

}  // namespace ddpm
