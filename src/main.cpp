// Entry point: runs the CLI and turns every exception into one line on stderr and a non-zero exit.
#include <c10/util/Exception.h>

#include <csignal>
#include <iostream>
#include <string>

#include "ddpm/base/error.h"
#include "ddpm/base/runtime.h"
#include "ddpm/cli/cli.h"

int main(int argc, char** argv) {
  ddpm::tune_allocator();
  // A file-size limit (ulimit -f) must fail the write with EFBIG, which the atomic writer reports,
  // instead of killing the process.
  std::signal(SIGXFSZ, SIG_IGN);
  try {
    return ddpm::run_cli(argc, argv);
  } catch (const ddpm::Error& e) {
    std::cerr << "ddpm: error: " << ddpm::first_line(e.what()) << "\n";
  } catch (const c10::Error& e) {
    std::cerr << "ddpm: error: " << ddpm::first_line(e.what_without_backtrace()) << "\n";
  } catch (const std::bad_alloc&) {
    std::cerr << "ddpm: error: out of memory; lower the batch size\n";
  } catch (const std::exception& e) {
    std::cerr << "ddpm: error: " << ddpm::first_line(e.what()) << "\n";
  }
  return 1;
}
