// The IDX reader and the Fashion-MNIST extraction, on small IDX files made here; and one property
// of the real data set (Debian's package) that the Fashion-MNIST configs rely on.
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>

#include "ddpm/config/config.h"
#include "ddpm/data/builtin/idx.h"
#include "ddpm/data/image_io.h"
#include "fixtures.h"
#include "test_util.h"

namespace ddpm {
namespace {

using test::write_fake_fashion;

using test::TempDir;

TEST(FashionMnist, DataCommandThroughTheBinary) {
  TempDir dir;
  write_fake_fashion(dir / "src");
  auto ok = test::run_ddpm("data fashion-mnist --source '" + (dir / "src") + "' --out '" +
                           (dir / "out") + "'");
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("wrote 5 Fashion-MNIST images"), std::string::npos) << ok.out;
  auto missing = test::run_ddpm("data fashion-mnist --source '" + (dir / "none") + "' --out '" +
                                (dir / "o2") + "'");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("dataset-fashion-mnist"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace ddpm
