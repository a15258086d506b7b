// libFuzzer target: the JSON config reader and validator must turn any bytes into a Config or a
// ddpm::Error, never a crash. Built by scripts/dev/fuzz.sh (clang, -DDDPM_FUZZ=ON).
#include <cstdint>
#include <string>

#include "ddpm/base/error.h"
#include "ddpm/config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    ddpm::Config config = ddpm::config_from_json_text(text, "fuzz.json");
    ddpm::validate(config);
    // A valid config survives the round trip through JSON unchanged.
    const std::string once = ddpm::config_to_string(config);
    if (ddpm::config_to_string(ddpm::config_from_json_text(once, "again")) != once)
      __builtin_trap();
    ddpm::apply_override(config, text.substr(0, 64));
  } catch (const ddpm::Error&) {
  }
  return 0;
}
