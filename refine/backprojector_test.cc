// The back-projector against known maps: exact central sections of an asymmetric map come back as
// the map (greyscale and hand), symmetry sums recover a symmetric map from fewer views, the
// Kaiser-Bessel blob matches RELION's tabulated values, and fixed-point sums are exact.
#include "refine/backprojector.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/fft.h"
#include "core/projector.h"
#include "core/random.h"
#include "refine/test_maps.h"

namespace emkit {
namespace {

// Uniform random orientations (rot, psi uniform; cos(tilt) uniform).
std::vector<Euler> RandomOrientations(int count, uint64_t seed) {
  Rng rng(seed, 0);
  std::vector<Euler> out;
  for (int i = 0; i < count; ++i) {
    Euler e;
    e.rot = rng.Uniform() * 360 - 180;
    e.tilt = std::acos(1 - 2 * rng.Uniform()) * 180 / M_PI;
    e.psi = rng.Uniform() * 360 - 180;
    out.push_back(e);
  }
  return out;
}

Volume ReconstructFromSections(const Volume& map, const std::vector<Euler>& views, const std::string& sym,
                               int threads = 1) {
  const int n = map.nx();
  const Projector proj(map, 1.0);
  BackProjector bp(n, 2);
  for (const Euler& e : views) bp.Insert(proj.Slice(EulerToMatrix(e), n, 1.0), nullptr, EulerToMatrix(e));
  bp.Symmetrise(SymmetryGroup(sym), threads);
  BackProjector::ReconstructOptions o;
  o.threads = threads;
  return bp.Reconstruct(o);
}

TEST(BackProjector, SectionsOfAMapReconstructTheMapWithItsHandAndScale) {
  const int n = 32;
  const Volume truth = testing::Blobs(n, testing::ChiralBlobs());
  const Volume rec = ReconstructFromSections(truth, RandomOrientations(600, 7), "C1");
  EXPECT_GT(testing::CorrelationInSphere(rec, truth, n / 2 - 2), 0.99);
  // The mirror image (z -> -z) is a different map: a hand flip would correlate with it instead.
  Volume mirror(n, n, n);
  for (int z = 0; z < n; ++z)
    for (int y = 0; y < n; ++y)
      for (int x = 0; x < n; ++x) mirror(x, y, z) = truth(x, y, (n - z) % n);
  EXPECT_LT(testing::CorrelationInSphere(rec, mirror, n / 2 - 2), 0.8);
  // Greyscale: the projector's sections are line integrals, so the map comes back at its scale.
  double st = 0, sr = 0;
  for (std::size_t i = 0; i < truth.size(); ++i) {
    st += truth[i] * truth[i];
    sr += rec[i] * truth[i];
  }
  EXPECT_NEAR(sr / st, 1.0, 0.05);
}

TEST(BackProjector, SymmetryRecoversASymmetricMapFromViewsOfTheAsymmetricUnit) {
  const int n = 32;
  const SymmetryGroup d2("D2");
  std::vector<testing::Blob> blobs;
  for (const Mat3& m : d2.matrices())
    for (const testing::Blob& b : testing::ChiralBlobs()) {
      const auto p = m * std::array<double, 3>{b.x, b.y, b.z};
      blobs.push_back({p[0], p[1], p[2], b.sigma, b.amplitude});
    }
  const Volume truth = testing::Blobs(n, blobs);
  // 10 views: too few for C1 at this size, more nearly enough with the four-fold redundancy of D2.
  const std::vector<Euler> views = RandomOrientations(10, 11);
  const double c1 = testing::CorrelationInSphere(ReconstructFromSections(truth, views, "C1"), truth, n / 2 - 2);
  const Volume sym = ReconstructFromSections(truth, views, "D2", 2);
  const double cd2 = testing::CorrelationInSphere(sym, truth, n / 2 - 2);
  EXPECT_GT(cd2, c1 + 0.02);
  EXPECT_GT(cd2, 0.97);
}

TEST(BackProjector, ThreadsDoNotChangeTheSymmetrisedMap) {
  const int n = 24;
  const Volume truth = testing::Blobs(n, testing::ChiralBlobs());
  const auto views = RandomOrientations(50, 3);
  const Volume a = ReconstructFromSections(truth, views, "O", 1);
  const Volume b = ReconstructFromSections(truth, views, "O", 2);
  for (std::size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]) << i;
}

TEST(BackProjector, FixedPointSumsDoNotDependOnTheSplit) {
  const int n = 24;
  const Volume truth = testing::Blobs(n, testing::ChiralBlobs());
  const Projector proj(truth, 1.0);
  const auto views = RandomOrientations(30, 5);
  BackProjector one(n, 2), part(n, 2);
  std::vector<__int128> all(one.fixed_size(), 0), split(one.fixed_size(), 0);
  for (const Euler& e : views) one.Insert(proj.Slice(EulerToMatrix(e), n, 1.0), nullptr, EulerToMatrix(e));
  one.AddToFixed(&all);
  // The same images in three blocks, added in another order.
  for (int block : {2, 0, 1}) {
    part.Clear();
    for (int i = block * 10; i < block * 10 + 10; ++i)
      part.Insert(proj.Slice(EulerToMatrix(views[i]), n, 1.0), nullptr, EulerToMatrix(views[i]));
    part.AddToFixed(&split);
  }
  // Per block rounding differs from rounding the whole sum by at most one unit per block.
  for (std::size_t i = 0; i < all.size(); ++i) ASSERT_LE(std::abs(static_cast<double>(all[i] - split[i])), 3.0);
  std::vector<__int128> again(one.fixed_size(), 0);
  for (int block : {0, 1, 2}) {
    part.Clear();
    for (int i = block * 10; i < block * 10 + 10; ++i)
      part.Insert(proj.Slice(EulerToMatrix(views[i]), n, 1.0), nullptr, EulerToMatrix(views[i]));
    part.AddToFixed(&again);
  }
  EXPECT_TRUE(again == split);  // the order of the blocks does not matter
}

TEST(BackProjector, StoresAboutHalfTheWindowAndLosesNoInsertedPixel) {
  // Only the cells within pad r_max + 2 are stored: every pixel of every image (r_max = box / 2 and
  // smaller, pad 1 and 2) still lands whole (its trilinear weights sum to 1), and the sums come back
  // from the fixed-point totals to within their resolution.
  const int n = 24;
  FourierGrid ones(n, n);
  for (std::size_t i = 0; i < ones.size(); ++i) ones.data()[i] = Complex(1, 0);
  const auto views = RandomOrientations(60, 9);
  for (int pad : {1, 2})
    for (int r_max : {0, 7}) {
      BackProjector bp(n, pad, r_max), back(n, pad, r_max);
      for (const Euler& e : views) bp.Insert(ones, nullptr, EulerToMatrix(e), 0.3, -0.7);
      const int R = bp.reach(), r = bp.r_max();
      const double cube = double(2 * R + 1) * (2 * R + 1) * (R + 1);
      EXPECT_LT(bp.cells(), R >= 20 ? 0.6 * cube : cube) << "pad " << pad << ", r_max " << r_max;
      // Pixels inserted per image: x >= 0 within r_max, without (0, y < 0); RELION's rows hold
      // y = -n/2 + 1 .. n/2.
      int pixels = 0;
      for (int y = -n / 2 + 1; y <= n / 2; ++y)
        for (int x = 0; x <= n / 2; ++x) pixels += x * x + y * y <= r * r && !(x == 0 && y < 0);
      double total = 0;
      for (int z = -R; z <= R; ++z)
        for (int y = -R; y <= R; ++y)
          for (int x = 0; x <= R; ++x) total += bp.weight(x, y, z);
      EXPECT_NEAR(total, double(pixels) * views.size(), 1e-6) << "pad " << pad << ", r_max " << r_max;
      std::vector<__int128> fixed(bp.fixed_size(), 0);
      bp.AddToFixed(&fixed);
      back.SetFromFixed(fixed);
      for (int z = -R; z <= R; ++z)
        for (int y = -R; y <= R; ++y)
          for (int x = 0; x <= R; ++x) {
            ASSERT_NEAR(back.weight(x, y, z), bp.weight(x, y, z), 1e-12) << x << " " << y << " " << z;
            ASSERT_NEAR(std::abs(back.data(x, y, z) - bp.data(x, y, z)), 0.0, 2e-12) << x << " " << y << " " << z;
          }
    }
}

TEST(BackProjector, HermitianInsertionAndWindowFollowTheResolution) {
  BackProjector bp(32, 2, 8);
  EXPECT_EQ(bp.r_max(), 8);
  EXPECT_EQ(bp.reach(), 17);
  FourierGrid f(32, 32);
  for (std::size_t i = 0; i < f.size(); ++i) f.data()[i] = Complex(1, 0.5f);
  bp.Insert(f, nullptr, Mat3::Identity());
  // Identity: pixel (kx, ky) lands on padded (2 kx, 2 ky, 0), only within r_max.
  EXPECT_DOUBLE_EQ(bp.weight(2, 4, 0), 1.0);
  EXPECT_DOUBLE_EQ(bp.weight(16, 0, 0), 1.0);
  EXPECT_DOUBLE_EQ(bp.weight(2 * 9, 0, 0), 0.0);  // beyond r_max = 8 (and the window)
  EXPECT_NEAR(bp.data(2, -4, 0).imag(), 0.5, 1e-12);
  // The x = 0 column: rows y < 0 are not inserted (their conjugates y > 0 are).
  EXPECT_DOUBLE_EQ(bp.weight(0, 4, 0), 1.0);
  EXPECT_DOUBLE_EQ(bp.weight(0, -4, 0), 0.0);
  bp.Symmetrise(SymmetryGroup("C1"));
  EXPECT_DOUBLE_EQ(bp.weight(0, -4, 0), 1.0);
  EXPECT_NEAR(bp.data(0, -4, 0).imag(), -0.5, 1e-12);
}

TEST(BackProjector, BlobTransformMatchesRelionsFormula) {
  // RELION tabulates kaiser_Fourier_value(r, 3.8, 15, 0); at r = 0 it is
  // (2 pi)^1.5 a^3 I_1.5(alpha) / (I_0(alpha) alpha^1.5).
  const double a = 3.8, alpha = 15;
  const double i15 = std::sqrt(2 / (M_PI * alpha)) * (std::cosh(alpha) - std::sinh(alpha) / alpha);
  const double expect =
      std::pow(2 * M_PI, 1.5) * a * a * a * i15 / (std::cyl_bessel_i(0.0, alpha) * std::pow(alpha, 1.5));
  EXPECT_NEAR(BlobFourierValue(0), expect, 1e-9 * expect);
  // Monotone decrease over the main lobe, positive, and 0 beyond r = 0.5.
  EXPECT_GT(BlobFourierValue(0.1), BlobFourierValue(0.2));
  EXPECT_GT(BlobFourierValue(0.2), 0);
  EXPECT_EQ(BlobFourierValue(0.6), 0);
}

}  // namespace
}  // namespace emkit
