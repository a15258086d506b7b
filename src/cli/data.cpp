#include <iostream>

#include "ddpm/commands.h"
#include "ddpm/emoji.h"
#include "ddpm/error.h"
#include "ddpm/idx.h"

namespace ddpm {

int command_data(int argc, char** argv) {
  cxxopts::Options options(argv[0], "Prepare a built-in data set as an image folder.");
  options.positional_help("emoji | fashion-mnist");
  options.add_options()("name",
                        "data set: emoji (Noto Color Emoji artwork, Apache-2.0) or fashion-mnist "
                        "(Zalando's Fashion-MNIST, MIT, from Debian's dataset-fashion-mnist)",
                        cxxopts::value<std::string>())(
      "out", "output folder (default: data/emoji or data/fashion)", cxxopts::value<std::string>())(
      "font", "the emoji font file", cxxopts::value<std::string>()->default_value(kEmojiFontPath))(
      "source", "fashion-mnist: the folder of IDX files",
      cxxopts::value<std::string>()->default_value(kFashionMnistDir))(
      "limit", "write at most this many images (0 = all)",
      cxxopts::value<int64_t>()->default_value("0"));
  options.parse_positional({"name"});
  cxxopts::ParseResult args;
  if (!parse_options(options, argc, argv, args)) return 0;
  if (!args.count("name"))
    throw UsageError("name a data set: emoji or fashion-mnist", options.help());
  const std::string name = args["name"].as<std::string>();
  if (name != "emoji" && name != "fashion-mnist") {
    throw UsageError("unknown data set '" + name + "' (known: emoji, fashion-mnist)",
                     options.help());
  }
  if (name == "fashion-mnist") {
    const auto out =
        args.count("out") ? args["out"].as<std::string>() : std::string("data/fashion");
    const int64_t n = extract_fashion_mnist(args["source"].as<std::string>(), out);
    std::cout << "wrote " << n << " Fashion-MNIST images (28x28 grey PNG, one folder per class) to "
              << out << "/train and " << out << "/test\n";
    return 0;
  }
  const auto out = args.count("out") ? args["out"].as<std::string>() : std::string("data/emoji");
  const int64_t limit = args["limit"].as<int64_t>();
  if (limit < 0)
    throw Error("--limit " + std::to_string(limit) + ": must be non-negative (0 = all)");
  const int64_t n = extract_emoji(args["font"].as<std::string>(), out, limit);
  std::cout << "wrote " << n << " emoji images (128x128 RGB PNG) to " << out << "\n";
  return 0;
}

}  // namespace ddpm
