#include "picker/extract.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/random.h"

namespace emkit {
namespace {

TEST(Extract, BackgroundNormalisationRemovesARampExactly) {
  Image p(48, 48);
  Rng rng(4, 0);
  for (int y = 0; y < 48; ++y)
    for (int x = 0; x < 48; ++x) p(x, y) = static_cast<float>(5 + 0.3 * x - 0.2 * y + 2 * rng.Normal());
  for (int y = 18; y < 30; ++y)
    for (int x = 18; x < 30; ++x) p(x, y) += 40;  // the particle, inside the radius
  NormaliseBackground(&p, 18);
  double s = 0, s2 = 0, sx = 0, sy = 0;
  int n = 0;
  for (int y = 0; y < 48; ++y)
    for (int x = 0; x < 48; ++x) {
      const double dx = x - 24, dy = y - 24;
      if (dx * dx + dy * dy <= 18 * 18) continue;
      s += p(x, y), s2 += p(x, y) * p(x, y), sx += p(x, y) * dx, sy += p(x, y) * dy, ++n;
    }
  EXPECT_NEAR(s / n, 0, 1e-5);
  EXPECT_NEAR(std::sqrt(s2 / n - (s / n) * (s / n)), 1, 1e-4);
  // Least squares residuals are orthogonal to x and y over the background.
  EXPECT_NEAR(sx / n, 0, 1e-3);
  EXPECT_NEAR(sy / n, 0, 1e-3);
  EXPECT_GT(p(24, 24), 10);  // noise sigma 2 -> the particle is ~20 sigma
}

TEST(Extract, BoxIsCentredOnTheRoundedCoordinateAndEdgesAreSkipped) {
  Image mic(200, 150);
  for (int y = 0; y < 150; ++y)
    for (int x = 0; x < 200; ++x) mic(x, y) = static_cast<float>(1000 * y + x);
  ExtractOptions opt;
  opt.box = 32;
  opt.normalise = false;
  Image p;
  ASSERT_TRUE(ExtractParticle(mic, 100.4, 60.6, opt, &p));
  EXPECT_EQ(p.nx(), 32);
  EXPECT_EQ(p(16, 16), 1000 * 61 + 100);  // centre of the box at (box/2, box/2)
  EXPECT_EQ(p(0, 0), 1000 * 45 + 84);
  EXPECT_TRUE(ExtractParticle(mic, 16, 16, opt, &p));
  EXPECT_FALSE(ExtractParticle(mic, 15, 16, opt, &p));
  EXPECT_FALSE(ExtractParticle(mic, 100, 135, opt, &p));
  opt.invert_contrast = true;
  ASSERT_TRUE(ExtractParticle(mic, 100, 60, opt, &p));
  EXPECT_EQ(p(16, 16), -(1000 * 60 + 100));
}

TEST(Extract, RescaleKeepsTheParticleCentred) {
  Image mic(256, 256);
  for (int y = 0; y < 256; ++y)
    for (int x = 0; x < 256; ++x)
      mic(x, y) = static_cast<float>(std::exp(-((x - 128.0) * (x - 128.0) + (y - 128.0) * (y - 128.0)) / 50.0));
  ExtractOptions opt;
  opt.box = 64;
  opt.rescale = 32;
  Image p;
  ASSERT_TRUE(ExtractParticle(mic, 128, 128, opt, &p));
  EXPECT_EQ(p.nx(), 32);
  int bx = 0, by = 0;
  for (int y = 0; y < 32; ++y)
    for (int x = 0; x < 32; ++x)
      if (p(x, y) > p(bx, by)) bx = x, by = y;
  EXPECT_EQ(bx, 16);
  EXPECT_EQ(by, 16);
  EXPECT_DOUBLE_EQ(opt.BackgroundRadius(), 12);
  opt.box = 31;
  EXPECT_THROW(opt.Check(), std::exception);
}

}  // namespace
}  // namespace emkit
