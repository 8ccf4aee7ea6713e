// Masks with known answers: the distance transform against brute force, the automatic mask of a
// ball (extension and raised-cosine edge voxel by voxel along an axis, its volume), shrinking,
// and a soft sphere's volume against the integral of its profile.
#include "refine/mask3d.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "core/random.h"

namespace emkit {
namespace {

Volume Ball(int n, double radius) {
  Volume v(n, n, n, 0.0f);
  const int c = n / 2;
  for (int z = 0; z < n; ++z)
    for (int y = 0; y < n; ++y)
      for (int x = 0; x < n; ++x)
        if ((x - c) * (x - c) + (y - c) * (y - c) + (z - c) * (z - c) <= radius * radius) v(x, y, z) = 1;
  return v;
}

TEST(Mask3d, DistanceTransformIsExact) {
  const int nx = 13, ny = 9, nz = 7;
  Grid<uint8_t> in(nx, ny, nz, 0);
  Rng rng(1, 0);
  for (auto& v : in) v = rng.Uniform() < 0.03;
  in(0, 0, 0) = 1;
  const std::vector<float> d2 = SquaredDistanceTransform(in, 2);
  for (int z = 0; z < nz; ++z)
    for (int y = 0; y < ny; ++y)
      for (int x = 0; x < nx; ++x) {
        int best = 1 << 30;
        for (int c = 0; c < nz; ++c)
          for (int b = 0; b < ny; ++b)
            for (int a = 0; a < nx; ++a)
              if (in(a, b, c)) best = std::min(best, (a - x) * (a - x) + (b - y) * (b - y) + (c - z) * (c - z));
        ASSERT_EQ(d2[(std::size_t(z) * ny + y) * nx + x], float(best)) << x << "," << y << "," << z;
      }
}

TEST(Mask3d, AutoMaskOfABall) {
  const int n = 48, c = n / 2;
  AutoMaskOptions o;
  o.threshold = 0.5;
  o.extend_px = 3;
  o.soft_edge_px = 4;
  const Volume m = MakeAutoMask(Ball(n, 10), o);
  // Along +x: the ball reaches x = c + 10, the extension adds voxels closer than 3 px (c + 12),
  // then 0.5 + 0.5 cos(pi d / 4) at distance d = 1, 2, 3 from the extended mask, 0 from d = 4.
  for (int r = 0; r <= 12; ++r) EXPECT_EQ(m(c + r, c, c), 1.0f) << r;
  EXPECT_NEAR(m(c + 13, c, c), 0.5 + 0.5 * std::cos(M_PI / 4), 1e-6);
  EXPECT_NEAR(m(c + 14, c, c), 0.5, 1e-6);
  EXPECT_NEAR(m(c + 15, c, c), 0.5 + 0.5 * std::cos(3 * M_PI / 4), 1e-6);
  EXPECT_EQ(m(c + 16, c, c), 0.0f);
  // Volume: the voxels at 1 fill a ball of radius ~12.5 (10 + 3 minus half a voxel).
  double ones = 0;
  for (float v : m) ones += v == 1.0f;
  const double expected = 4.0 / 3 * M_PI * std::pow(12.5, 3);
  EXPECT_NEAR(ones / expected, 1.0, 0.05) << ones << " vs " << expected;
  const MaskStats s = ComputeMaskStats(m);
  EXPECT_EQ(s.min, 0.0);
  EXPECT_EQ(s.max, 1.0);
  // Shrinking by 3 px: voxels closer than 3 px to the outside leave, so the ball ends at c + 7.
  o.extend_px = -3;
  o.soft_edge_px = 0;
  const Volume shrunk = MakeAutoMask(Ball(n, 10), o);
  EXPECT_EQ(shrunk(c + 7, c, c), 1.0f);
  EXPECT_EQ(shrunk(c + 8, c, c), 0.0f);
  // Nothing reaches the threshold: an error, not an empty mask.
  o.threshold = 2;
  EXPECT_THROW(MakeAutoMask(Ball(n, 10), o), InvalidInputError);
}

TEST(Mask3d, SoftSphereVolumeMatchesItsProfile) {
  const int n = 64;
  const double r = 15, w = 6;
  const MaskStats s = ComputeMaskStats(SoftSphereMask(n, r, w));
  // Integral of 4 pi t² over the ball plus the raised cosine over the edge.
  double edge = 0;
  const int steps = 10000;
  for (int i = 0; i < steps; ++i) {
    const double d = (i + 0.5) * w / steps, t = r + d;
    edge += 4 * M_PI * t * t * (0.5 + 0.5 * std::cos(M_PI * d / w)) * w / steps;
  }
  const double expected = 4.0 / 3 * M_PI * r * r * r + edge;
  EXPECT_NEAR(s.sum / expected, 1.0, 0.01) << s.sum << " vs " << expected;
}

}  // namespace
}  // namespace emkit
