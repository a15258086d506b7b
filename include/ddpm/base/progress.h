// The status line of long work (training, sampling, evaluation).
#pragma once
#include <ostream>
#include <string>

namespace ddpm {

// On a terminal the line rewrites itself in place; elsewhere (a log file, a pipe) every update is a
// line of its own. An open line is ended by end() and when the object goes away, also during stack
// unwinding, so that a warning or an error printed next starts on a line of its own.
class ProgressLine {
 public:
  ProgressLine(std::ostream& out, bool terminal) : out_(out), terminal_(terminal) {}
  ~ProgressLine() { end(); }
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  void update(const std::string& text);
  void end();
  bool terminal() const { return terminal_; }

 private:
  std::ostream& out_;
  bool terminal_;
  bool open_ = false;
};

// True when standard error is a terminal.
bool stderr_is_terminal();

}  // namespace ddpm
