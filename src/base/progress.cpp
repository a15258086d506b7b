#include "ddpm/base/progress.h"

#include <unistd.h>

namespace ddpm {

void ProgressLine::update(const std::string& text) {
  if (terminal_) {
    out_ << "\r" << text << "\033[K" << std::flush;
    open_ = true;
  } else {
    out_ << text << "\n" << std::flush;
  }
}

void ProgressLine::end() {
  if (!open_) return;
  out_ << "\n" << std::flush;
  open_ = false;
}

bool stderr_is_terminal() { return isatty(STDERR_FILENO) != 0; }

}  // namespace ddpm
