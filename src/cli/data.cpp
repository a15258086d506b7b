#include <iostream>

#include "ddpm/commands.h"
#include "ddpm/emoji.h"
#include "ddpm/error.h"

namespace ddpm {

int command_data(int argc, char** argv) {
  cxxopts::Options options(argv[0], "Prepare a built-in data set as an image folder.");
  options.positional_help("emoji");
  options.add_options()("name", "data set: emoji (Noto Color Emoji artwork, Apache-2.0)",
                        cxxopts::value<std::string>())(
      "out", "output folder", cxxopts::value<std::string>()->default_value("data/emoji"))(
      "font", "the emoji font file", cxxopts::value<std::string>()->default_value(kEmojiFontPath))(
      "limit", "write at most this many images (0 = all)",
      cxxopts::value<int64_t>()->default_value("0"));
  options.parse_positional({"name"});
  cxxopts::ParseResult args;
  if (!parse_options(options, argc, argv, args)) return 0;
  if (!args.count("name")) throw UsageError("name a data set: emoji", options.help());
  const std::string name = args["name"].as<std::string>();
  if (name != "emoji") throw UsageError("unknown data set '" + name + "' (known: emoji)", options.help());
  const auto out = args["out"].as<std::string>();
  const int64_t n = extract_emoji(args["font"].as<std::string>(), out, args["limit"].as<int64_t>());
  std::cout << "wrote " << n << " emoji images (128x128 RGB PNG) to " << out << "\n";
  return 0;
}

}  // namespace ddpm
