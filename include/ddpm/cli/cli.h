// The command-line front end: a dispatch table of subcommands, each parsing its own options.
#pragma once

namespace ddpm {

// Runs `ddpm <command> [options]`; returns the process exit code. Throws ddpm::Error on bad input.
int run_cli(int argc, char** argv);

}  // namespace ddpm
