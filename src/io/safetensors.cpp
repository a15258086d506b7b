#include "ddpm/io/safetensors.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "ddpm/base/bytes.h"
#include "ddpm/base/error.h"
#include "ddpm/base/json_input.h"

namespace ddpm {
namespace {

using nlohmann::json;

struct DType {
  const char* name;
  torch::ScalarType type;
};
constexpr DType kDTypes[] = {{"F32", torch::kFloat32}, {"F64", torch::kFloat64},
                             {"F16", torch::kFloat16}, {"BF16", torch::kBFloat16},
                             {"I64", torch::kInt64},   {"I32", torch::kInt32},
                             {"U8", torch::kUInt8},    {"BOOL", torch::kBool}};

const char* dtype_name(torch::ScalarType type) {
  for (const auto& d : kDTypes) {
    if (d.type == type) return d.name;
  }
  throw Error(std::string("safetensors: no dtype name for ") + c10::toString(type));
}

// One header entry, checked: dtype known, shape of non-negative sizes, byte range consistent.
torch::Tensor read_entry(const std::string& key, const json& e, const uint8_t* data,
                         uint64_t data_size, const std::string& where,
                         std::vector<std::pair<uint64_t, uint64_t>>& ranges) {
  const std::string at = where + ": tensor " + key;
  if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") ||
      !e.contains("data_offsets")) {
    throw Error(at + ": needs dtype, shape and data_offsets");
  }
  const auto found = std::find_if(std::begin(kDTypes), std::end(kDTypes), [&](const DType& d) {
    return e["dtype"].is_string() && e["dtype"].get<std::string>() == d.name;
  });
  if (found == std::end(kDTypes)) throw Error(at + ": unsupported dtype " + e["dtype"].dump());
  std::vector<int64_t> shape;
  uint64_t count = 1;
  if (!e["shape"].is_array() || e["shape"].size() > 8)
    throw Error(at + ": shape must be a list of up to 8 sizes");
  for (const auto& s : e["shape"]) {
    if (!s.is_number_unsigned() || s.get<uint64_t>() > (uint64_t{1} << 40))
      throw Error(at + ": bad shape " + e["shape"].dump());
    shape.push_back(s.get<int64_t>());
    count *= s.get<uint64_t>();
    if (count > (uint64_t{1} << 40))
      throw Error(at + ": shape " + e["shape"].dump() + " is too large");
  }
  const json& off = e["data_offsets"];
  if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
      !off[1].is_number_unsigned()) {
    throw Error(at + ": data_offsets must be [begin, end]");
  }
  const uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
  const uint64_t bytes = count * c10::elementSize(found->type);
  if (begin > end || end > data_size || end - begin != bytes) {
    throw Error(at + ": data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                "] do not hold its " + std::to_string(bytes) + " bytes within the " +
                std::to_string(data_size) + " bytes of data");
  }
  ranges.emplace_back(begin, end);
  auto tensor = torch::empty(shape, torch::TensorOptions().dtype(found->type));
  if (bytes) std::memcpy(tensor.data_ptr(), data + begin, bytes);
  return tensor;
}

}  // namespace

std::vector<uint8_t> encode_safetensors(const SafeTensors& file) {
  json header = json::object();
  if (!file.metadata.empty()) header["__metadata__"] = file.metadata;
  uint64_t offset = 0;
  std::vector<torch::Tensor> ordered;
  for (const auto& [name, tensor] : file.tensors) {  // std::map: sorted by name
    auto t = tensor.detach().cpu().contiguous();
    const uint64_t bytes = static_cast<uint64_t>(t.numel()) * t.element_size();
    header[name] = {{"dtype", dtype_name(t.scalar_type())},
                    {"shape", t.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    ordered.push_back(t);
  }
  std::string text = header.dump();
  text.append((8 - (8 + text.size()) % 8) % 8, ' ');
  const uint64_t n = text.size();
  std::vector<uint8_t> out(8 + n + offset);
  std::memcpy(out.data(), &n, 8);
  std::memcpy(out.data() + 8, text.data(), n);
  size_t at = 8 + n;
  for (const auto& t : ordered) {
    const size_t bytes = static_cast<size_t>(t.numel()) * t.element_size();
    if (bytes) std::memcpy(out.data() + at, t.data_ptr(), bytes);
    at += bytes;
  }
  return out;
}

SafeTensors decode_safetensors(const std::vector<uint8_t>& b, const std::string& where) {
  if (b.size() < 8)
    throw Error(where + ": not a safetensors file (shorter than its 8-byte header length)");
  const uint64_t n = read_le<uint64_t>(b.data());
  if (n > b.size() - 8 || n > (uint64_t{100} << 20)) {
    throw Error(where + ": not a safetensors file (header length " + std::to_string(n) +
                " exceeds the file or 100 MiB)");
  }
  const json header =
      parse_json_input(std::string(b.begin() + 8, b.begin() + 8 + static_cast<std::ptrdiff_t>(n)),
                       where + " (header)");
  if (!header.is_object()) throw Error(where + ": the header is not a JSON object");
  SafeTensors file;
  const uint8_t* data = b.data() + 8 + n;
  const uint64_t data_size = b.size() - 8 - n;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it.value().is_object())
        throw Error(where + ": __metadata__ must map strings to strings");
      for (auto m = it.value().begin(); m != it.value().end(); ++m) {
        if (!m.value().is_string())
          throw Error(where + ": __metadata__ must map strings to strings");
        file.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    file.tensors[it.key()] = read_entry(it.key(), it.value(), data, data_size, where, ranges);
  }
  // The tensors must tile the data exactly: no overlap, no gap, nothing left over.
  std::sort(ranges.begin(), ranges.end());
  uint64_t covered = 0;
  for (const auto& [begin, end] : ranges) {
    if (begin != covered)
      throw Error(where + ": tensor data overlaps or leaves a gap at byte " +
                  std::to_string(covered));
    covered = end;
  }
  if (covered != data_size) {
    throw Error(where + ": " + std::to_string(data_size - covered) +
                " bytes after the last tensor");
  }
  return file;
}

std::map<std::string, torch::Tensor> module_tensors(torch::nn::Module& module) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : module.named_parameters()) out[p.key()] = p.value().detach().cpu();
  for (const auto& b : module.named_buffers()) out[b.key()] = b.value().detach().cpu();
  return out;
}

void load_module_tensors(torch::nn::Module& module,
                         const std::map<std::string, torch::Tensor>& tensors,
                         const std::string& where) {
  std::vector<std::pair<torch::Tensor, torch::Tensor>> pending;
  std::map<std::string, torch::Tensor> targets;
  for (const auto& p : module.named_parameters()) targets[p.key()] = p.value();
  for (const auto& b : module.named_buffers()) targets[b.key()] = b.value();
  for (const auto& [name, target] : targets) {
    const auto it = tensors.find(name);
    if (it == tensors.end()) throw Error(where + ": tensor " + name + " is missing");
    const auto& stored = it->second;
    if (stored.sizes() != target.sizes()) {
      std::ostringstream os;
      os << where << ": tensor " << name << " has shape " << stored.sizes() << ", the model needs "
         << target.sizes();
      throw Error(os.str());
    }
    if (stored.is_floating_point() != target.is_floating_point()) {
      throw Error(where + ": tensor " + name + " has dtype " + c10::toString(stored.scalar_type()) +
                  ", the model needs " + c10::toString(target.scalar_type()));
    }
    if (stored.is_floating_point() && !torch::isfinite(stored).all().item<bool>()) {
      throw Error(where + ": tensor " + name + " holds NaN or infinite values");
    }
    pending.emplace_back(target, stored);
  }
  for (const auto& [name, tensor] : tensors) {
    if (!targets.count(name)) throw Error(where + ": tensor " + name + " is not part of the model");
  }
  torch::NoGradGuard no_grad;
  for (auto& [target, stored] : pending) target.copy_(stored.to(target.scalar_type()));
}

}  // namespace ddpm
