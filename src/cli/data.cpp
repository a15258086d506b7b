#include <iostream>

#include "ddpm/base/error.h"
#include "ddpm/cli/commands.h"
#include "ddpm/data/builtin/emoji.h"
#include "ddpm/data/builtin/emoji_groups.h"
#include "ddpm/data/builtin/idx.h"

namespace ddpm {
namespace {

int write_emoji_groups(const cxxopts::ParseResult& args, const std::string& out, int64_t limit,
                       EmojiLevel level) {
  const std::string emoji_test = args["emoji-test"].as<std::string>();
  const auto [names, written] =
      extract_emoji_groups(args["font"].as<std::string>(), emoji_test, out, limit, level);
  int64_t total = 0;
  std::string counts;
  for (size_t g = 0; g < written.size(); ++g) {
    total += written[g];
    counts += (g ? ", " : "") + names[g] + " " + std::to_string(written[g]);
  }
  std::cout << "wrote " << total << " emoji images (128x128 RGB PNG) in " << written.size()
            << (level == EmojiLevel::group ? " group" : " subgroup") << " folders to " << out
            << ": " << counts << "\n";
  return 0;
}

// `ddpm data emoji`: all pictures in one folder, or a class folder per group or subgroup.
int write_emoji(const cxxopts::ParseResult& args) {
  const bool by_group = args.count("by-group") > 0;
  const bool by_subgroup = args.count("by-subgroup") > 0;
  if (by_group && by_subgroup) throw Error("--by-group and --by-subgroup exclude each other");
  const auto out = args.count("out") ? args["out"].as<std::string>()
                   : by_group        ? std::string("data/emoji-groups")
                   : by_subgroup     ? std::string("data/emoji-subgroups")
                                     : std::string("data/emoji");
  const int64_t limit = args["limit"].as<int64_t>();
  if (limit < 0)
    throw Error("--limit " + std::to_string(limit) + ": must be non-negative (0 = all)");
  if (by_group || by_subgroup) {
    return write_emoji_groups(args, out, limit,
                              by_group ? EmojiLevel::group : EmojiLevel::subgroup);
  }
  const int64_t n = extract_emoji(args["font"].as<std::string>(), out, limit);
  std::cout << "wrote " << n << " emoji images (128x128 RGB PNG) to " << out << "\n";
  return 0;
}

}  // namespace

int command_data(int argc, char** argv) {
  cxxopts::Options options(argv[0], "Prepare a built-in data set as an image folder.");
  options.positional_help("emoji | fashion-mnist");
  options.add_options()("name",
                        "data set: emoji (Noto Color Emoji artwork, Apache-2.0) or fashion-mnist "
                        "(Zalando's Fashion-MNIST, MIT, from Debian's dataset-fashion-mnist)",
                        cxxopts::value<std::string>())(
      "out",
      "output folder (default: data/emoji, data/emoji-groups with --by-group, "
      "data/emoji-subgroups with --by-subgroup, or data/fashion)",
      cxxopts::value<std::string>())("font", "the emoji font file",
                                     cxxopts::value<std::string>()->default_value(kEmojiFontPath))(
      "by-group",
      "emoji: one class folder per Unicode emoji group (Smileys & Emotion, ..., Flags), for a "
      "class-conditional model")(
      "by-subgroup",
      "emoji: one class folder per Unicode emoji subgroup (face-smiling, "
      "animal-mammal, food-fruit, ..., about 100), for a "
      "class-conditional model")(
      "emoji-test",
      "emoji --by-group/--by-subgroup: Unicode's emoji-test.txt (Debian's unicode-data)",
      cxxopts::value<std::string>()->default_value(kEmojiTestPath))(
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
  return write_emoji(args);
}

}  // namespace ddpm
