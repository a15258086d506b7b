// SIGINT/SIGTERM as a request to stop cleanly (save, then exit), for the lifetime of the object; a
// second signal kills as usual.
#pragma once
#include <csignal>

namespace ddpm {

class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  int received() const;  // the signal, or 0

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

}  // namespace ddpm
