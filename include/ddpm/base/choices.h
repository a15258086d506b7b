// The typed choices of a config (schedule, objective, loss, weighting, variance, lr schedule,
// precision, sampler, spacing): one name table each, parsed once where text enters (config files,
// --set, flags) and written back by the same table.
#pragma once
#include <array>
#include <string>
#include <utility>

namespace ddpm {

enum class Schedule { linear, cosine };
enum class Objective { eps, x0, v };  // what the network predicts
enum class Loss { l1, l2 };
enum class LossWeighting { none, min_snr };          // min_snr: Hang et al. 2023
enum class Variance { fixed_small, fixed_large };    // β̃_t | β_t
enum class LrSchedule { constant, linear, cosine };  // after the warm-up
enum class Precision { fp32, bf16 };  // bf16: autocast of the network; loss and weights stay fp32
enum class Sampler { ddpm, ddim, dpmpp2m, heun };
// Timesteps of the few-step samplers; automatic: uniform for ddim, logsnr for dpmpp2m.
enum class Spacing { automatic, uniform, quadratic, logsnr };

template <class E>
struct ChoiceNames;  // static constexpr std::array<std::pair<E, const char*>, N> table

#define DDPM_CHOICES(E, ...)                                            \
  template <>                                                           \
  struct ChoiceNames<E> {                                               \
    static constexpr std::pair<E, const char*> table[] = {__VA_ARGS__}; \
  }

DDPM_CHOICES(Schedule, {Schedule::linear, "linear"}, {Schedule::cosine, "cosine"});
DDPM_CHOICES(Objective, {Objective::eps, "eps"}, {Objective::x0, "x0"}, {Objective::v, "v"});
DDPM_CHOICES(Loss, {Loss::l1, "l1"}, {Loss::l2, "l2"});
DDPM_CHOICES(LossWeighting, {LossWeighting::none, "none"}, {LossWeighting::min_snr, "min_snr"});
DDPM_CHOICES(Variance, {Variance::fixed_small, "fixed_small"},
             {Variance::fixed_large, "fixed_large"});
DDPM_CHOICES(LrSchedule, {LrSchedule::constant, "constant"}, {LrSchedule::linear, "linear"},
             {LrSchedule::cosine, "cosine"});
DDPM_CHOICES(Precision, {Precision::fp32, "fp32"}, {Precision::bf16, "bf16"});
DDPM_CHOICES(Sampler, {Sampler::ddpm, "ddpm"}, {Sampler::ddim, "ddim"},
             {Sampler::dpmpp2m, "dpmpp2m"}, {Sampler::heun, "heun"});
// "" is read as auto, as the --spacing flag's default was spelled before sample.spacing existed.
DDPM_CHOICES(Spacing, {Spacing::automatic, "auto"}, {Spacing::uniform, "uniform"},
             {Spacing::quadratic, "quadratic"}, {Spacing::logsnr, "logsnr"},
             {Spacing::automatic, ""});
#undef DDPM_CHOICES

// The name of a choice, as configs and reports spell it.
template <class E>
const char* choice_name(E value) {
  for (const auto& [v, name] : ChoiceNames<E>::table) {
    if (v == value) return name;
  }
  return "?";
}

// The spelled choices, "a | b | c" (the empty name of Spacing::automatic left out).
template <class E>
std::string choice_list() {
  std::string list;
  for (const auto& entry : ChoiceNames<E>::table) {
    if (*entry.second == '\0') continue;
    list += (list.empty() ? "" : " | ") + std::string(entry.second);
  }
  return list;
}

// Reads a choice by name; throws ddpm::Error "WHAT: unknown value "x" (expected a | b)".
void throw_unknown_choice(const std::string& what, const std::string& text,
                          const std::string& list);
template <class E>
E parse_choice(const std::string& text, const std::string& what) {
  for (const auto& [v, name] : ChoiceNames<E>::table) {
    if (text == name) return v;
  }
  throw_unknown_choice(what, text, choice_list<E>());
  return E{};
}

}  // namespace ddpm
