// The class-labelled emoji data set: a colour-bitmap font built in the test (cmap format 12, a GSUB
// ligature lookup inside an extension, CBLC/CBDT with PNG glyphs) and an emoji-test.txt made in
// the test, with known groups; then Debian's real font and file, where installed.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "ddpm/base/file_input.h"
#include "ddpm/data/builtin/emoji.h"
#include "ddpm/data/builtin/emoji_groups.h"
#include "ddpm/data/builtin/font_tables.h"
#include "ddpm/data/image_io.h"
#include "fixtures.h"
#include "test_util.h"

namespace ddpm {
namespace {

using test::Bytes;
using test::kEmojiTest;
using test::test_font;
using test::write_bytes;

TEST(EmojiGroups, TheDataCommandWritesGroupsOrSaysWhatIsMissing) {
  test::TempDir dir;
  write_bytes(dir / "test.ttf", test_font());
  test::write_file(dir / "emoji-test.txt", kEmojiTest);
  const std::string flags = "data emoji --by-group --font '" + dir / "test.ttf" + "' --out '" +
                            dir / "out" + "' --emoji-test ";
  const auto ok = test::run_ddpm(flags + "'" + dir / "emoji-test.txt" + "'");
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("wrote 6 emoji images (128x128 RGB PNG) in 4 group folders"),
            std::string::npos)
      << ok.out;
  EXPECT_NE(ok.out.find("People & Body 3"), std::string::npos) << ok.out;
  test::expect_one_line_error(test::run_ddpm(flags + "'" + dir / "none.txt" + "'"),
                              "apt-get install unicode-data", "a missing emoji-test.txt");
  const std::string subgroup_flags = "data emoji --by-subgroup --font '" + dir / "test.ttf" +
                                     "' --out '" + dir / "sub" + "' --emoji-test '" +
                                     dir / "emoji-test.txt" + "'";
  const auto sub = test::run_ddpm(subgroup_flags);
  ASSERT_EQ(sub.exit_code, 0) << sub.err;
  EXPECT_NE(sub.out.find("in 5 subgroup folders"), std::string::npos) << sub.out;
  EXPECT_NE(sub.out.find("People & Body person-hair 1"), std::string::npos) << sub.out;
  test::expect_one_line_error(test::run_ddpm(subgroup_flags + " --by-group"),
                              "--by-group and --by-subgroup exclude each other", "both levels");
}

}  // namespace
}  // namespace ddpm
