// `ddpm train --nproc N`: starts N local data-parallel workers, as torchrun would, for a machine
// without Python. It forwards SIGINT and SIGTERM to them, reports each worker's exit, and stops the
// rest when a worker fails and they do not end on their own.
#pragma once
#include <chrono>
#include <iosfwd>
#include <string>
#include <vector>

namespace ddpm {

struct LaunchOptions {
  int nproc = 1;
  std::vector<std::string> argv;  // the worker's command line (the program first)
  // How long the others may take to end by themselves after a worker failed (they notice a lost
  // peer at once, or a hung one after train.dist_timeout), before they are killed.
  std::chrono::seconds grace{60};
};

// Runs the workers to their end; returns 0 when all of them succeeded, else 1.
int launch_local_workers(const LaunchOptions& options, std::ostream& log);

// A TCP port on 127.0.0.1 that is free now.
int free_local_port();

}  // namespace ddpm
