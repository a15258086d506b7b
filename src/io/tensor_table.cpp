#include "ddpm/io/tensor_table.h"

#include <torch/torch.h>

#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include "ddpm/base/error.h"

namespace ddpm {
namespace {

std::string shape_of(const torch::Tensor& t) {
  std::ostringstream os;
  os << t.sizes();
  return os.str();
}

std::string joined(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

struct Pending {
  torch::Tensor target;
  torch::Tensor stored;
};

// Reads and checks the whole tree first, so that a bad entry leaves the module untouched.
void collect(torch::nn::Module& module, torch::serialize::InputArchive& archive,
             const std::string& prefix, const std::string& where, std::vector<Pending>& out) {
  std::set<std::string> expected;
  auto check = [&](const std::string& name, torch::Tensor& target, bool is_buffer) {
    expected.insert(name);
    const std::string full = where + ": " + joined(prefix, name);
    torch::Tensor stored;
    if (!archive.try_read(name, stored, is_buffer) || !stored.defined()) {
      throw Error(full + ": missing from the checkpoint");
    }
    if (stored.sizes() != target.sizes()) {
      throw Error(full + ": shape " + shape_of(stored) +
                  " in the checkpoint, but the model built " + "from its config has " +
                  shape_of(target));
    }
    if (stored.scalar_type() != target.scalar_type()) {
      throw Error(full + ": dtype " + std::string(c10::toString(stored.scalar_type())) +
                  " in the checkpoint, but the model has " + c10::toString(target.scalar_type()));
    }
    if (stored.is_floating_point() && !torch::isfinite(stored).all().item<bool>()) {
      throw Error(full + ": holds NaN or infinite values");
    }
    out.push_back({target, stored});
  };
  for (auto& item : module.named_parameters(/*recurse=*/false))
    check(item.key(), item.value(), false);
  for (auto& item : module.named_buffers(/*recurse=*/false)) check(item.key(), item.value(), true);
  for (auto& child : module.named_children()) {
    expected.insert(child.key());
    torch::serialize::InputArchive nested;
    if (!archive.try_read(child.key(), nested)) {
      throw Error(where + ": " + joined(prefix, child.key()) + ": missing from the checkpoint");
    }
    collect(*child.value(), nested, joined(prefix, child.key()), where, out);
  }
  for (const auto& key : archive.keys()) {
    if (!expected.count(key)) {
      throw Error(where + ": " + joined(prefix, key) +
                  ": not part of the model built from the "
                  "checkpoint's config");
    }
  }
}

}  // namespace

void load_checked(torch::nn::Module& module, torch::serialize::InputArchive& archive,
                  const std::string& where) {
  std::vector<Pending> pending;
  collect(module, archive, "", where, pending);
  torch::NoGradGuard no_grad;
  for (auto& p : pending) p.target.copy_(p.stored);
}

}  // namespace ddpm
