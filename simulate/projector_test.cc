// The projector against analytic projections, a real-space line integral, RELION's Euler
// convention, resampling and the shift convention.
#include "core/projector.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "core/fft.h"
#include "core/filters.h"
#include "core/geometry.h"
#include "simulate/phantom.h"

namespace emkit {
namespace {

// A 3D Gaussian of amplitude 1 and sigma s (px) centred at c + (dx, dy, dz).
Volume GaussianVolume(int n, double s, double dx = 0, double dy = 0, double dz = 0) {
  Volume v(n, n, n);
  const double c = n / 2;
  for (int z = 0; z < n; ++z)
    for (int y = 0; y < n; ++y)
      for (int x = 0; x < n; ++x) {
        const double r2 = (x - c - dx) * (x - c - dx) + (y - c - dy) * (y - c - dy) + (z - c - dz) * (z - c - dz);
        v(x, y, z) = static_cast<float>(std::exp(-r2 / (2 * s * s)));
      }
  return v;
}

TEST(Projector, GaussianProjectsToAnalyticGaussian) {
  // Even and odd boxes: the centre is n/2 (integer division) in the map and in the image.
  for (const int n : {48, 47}) {
    const double s = 3.0;
    const Projector proj(GaussianVolume(n, s), 1.0);
    for (const Euler e : {Euler{0, 0, 0}, Euler{30, 60, 100}, Euler{-120, 135, 10}}) {
      const Image p = proj.Project(e, n, 1.0);
      // Line integral of exp(-r^2 / 2 s^2): sqrt(2 pi) s exp(-(u^2 + v^2) / 2 s^2).
      double max_err = 0;
      for (int y = 0; y < n; ++y)
        for (int x = 0; x < n; ++x) {
          const double r2 = (x - n / 2) * (x - n / 2) + (y - n / 2) * (y - n / 2);
          const double want = std::sqrt(2 * M_PI) * s * std::exp(-r2 / (2 * s * s));
          max_err = std::max(max_err, std::fabs(p(x, y) - want));
        }
      EXPECT_LT(max_err, 0.01 * std::sqrt(2 * M_PI) * s) << n << ": " << e.rot << " " << e.tilt << " " << e.psi;
    }
  }
}

TEST(Projector, OffCentreBlobLandsWhereRelionsMatrixSendsIt) {
  // A blob at r = (8, -5, 3) from the centre appears at (A r)_x, (A r)_y in the image.
  const int n = 48;
  const Projector proj(GaussianVolume(n, 2.0, 8, -5, 3), 1.0);
  const Euler e{40, 70, -30};
  const Image p = proj.Project(e, n, 1.0);
  const auto ar = EulerToMatrix(e) * std::array<double, 3>{8, -5, 3};
  int bx = 0, by = 0;
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x)
      if (p(x, y) > p(bx, by)) bx = x, by = y;
  EXPECT_NEAR(bx, n / 2 + ar[0], 1.0);
  EXPECT_NEAR(by, n / 2 + ar[1], 1.0);
}

TEST(Projector, FourierSliceMatchesRealSpaceLineIntegral) {
  const double pixel = 8;
  // A box well larger than the particle: RELION's gridding correction then barely touches
  // the density and the mean (DC term) stays that of the line integral.
  const Volume map = MakePhantom("asym", 64, pixel, 200);
  const Projector proj(map, pixel);
  for (const Euler e : {Euler{10, 20, 30}, Euler{200, 95, -60}}) {
    const Image fourier = proj.Project(e, 64, pixel);
    const Image real = RealSpaceProject(map, e, 2);
    EXPECT_GT(Correlation(fourier, real), 0.99);
    EXPECT_NEAR(ComputeStats(fourier).mean, ComputeStats(real).mean, 0.02 * ComputeStats(real).mean);
  }
}

TEST(Projector, ResamplesAMapToAnotherPixelSize) {
  // The phantom sampled at 2 Å and projected at 4 Å = the phantom sampled at 4 Å.
  const Projector fine(MakePhantom("asym", 80, 2.0, 120), 2.0);
  const Projector coarse(MakePhantom("asym", 40, 4.0, 120), 4.0);
  const Euler e{15, 50, 75};
  const Image a = fine.Project(e, 40, 4.0), b = coarse.Project(e, 40, 4.0);
  EXPECT_GT(Correlation(a, b), 0.98);
  EXPECT_NEAR(ComputeStats(a).mean, ComputeStats(b).mean, 0.03 * ComputeStats(b).mean);
}

TEST(Projector, ShiftMovesTheImageByPlusShift) {
  const int n = 48;
  const Projector proj(GaussianVolume(n, 2.0), 1.0);
  const Image p = proj.Project({0, 0, 0}, n, 1.0, 5, -3);
  int bx = 0, by = 0;
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x)
      if (p(x, y) > p(bx, by)) bx = x, by = y;
  EXPECT_EQ(bx, n / 2 + 5);
  EXPECT_EQ(by, n / 2 - 3);
}

TEST(Projector, SliceIsTheCentralSectionWithinTheRequestedRadius) {
  // For the identity orientation the slice is the kz = 0 plane of the map's transform, i.e.
  // the transform of the projection along z; nothing beyond max_radius.
  const int n = 32;
  // Without gridding correction, the identity's slice samples the padded transform at its
  // grid points: exactly the transform of the z-sum.
  const Volume map = MakePhantom("asym", n, 8, 200);
  const Projector proj(map, 8, ProjectorOptions{2, false});
  Image sum(n, n, 1, 0.0f);
  for (int z = 0; z < n; ++z)
    for (int y = 0; y < n; ++y)
      for (int x = 0; x < n; ++x) sum(x, y) += map(x, y, z);
  const FourierGrid want = CentredFft(sum);
  const FourierGrid got = proj.Slice(Mat3::Identity(), n, 8, 6);
  for (int y = 0; y < n; ++y) {
    const int ky = FourierGrid::Freq(y, n);
    for (int kx = 0; kx <= n / 2; ++kx) {
      if (kx * kx + ky * ky > 36) {
        EXPECT_EQ(std::abs(got.At(kx, ky)), 0.0f);
      } else {
        EXPECT_NEAR(std::abs(got.At(kx, ky) - want.At(kx, ky)), 0, 1e-5 * std::abs(want.At(0, 0))) << kx << " " << ky;
      }
    }
  }
}

TEST(Projector, SliceAtGivenPixelsEqualsTheFullSlice) {
  const int n = 32;
  const Volume map = MakePhantom("asym", n, 8, 200);
  const Projector proj(map, 8);
  const Mat3 a = EulerToMatrix({33, 71, -120});
  const FourierGrid full = proj.Slice(a, n, 8);
  std::vector<int> kx, ky;
  for (int y = 0; y < n; ++y)
    for (int x = 0; x <= n / 2; ++x) {
      const int k = FourierGrid::Freq(y, n);
      if (x * x + k * k > (n / 2) * (n / 2)) continue;
      kx.push_back(x);
      ky.push_back(k);
    }
  std::vector<Complex> got(kx.size());
  proj.SliceAt(a, n, kx.data(), ky.data(), static_cast<int>(kx.size()), got.data());
  for (std::size_t i = 0; i < kx.size(); ++i) ASSERT_EQ(got[i], full.At(kx[i], ky[i])) << kx[i] << " " << ky[i];
}

// A projector limited to max_radius (RELION's r_max) stores a smaller transform and gives the same
// projections within it, bit for bit (and zero beyond), and the same power spectrum; even and odd maps.
TEST(Projector, MaxRadiusKeepsTheProjectionsWithinIt) {
  for (const int n : {32, 33}) {
    const Volume map = MakePhantom("asym", n, 8, 200);
    const Projector full(map, 8);
    ProjectorOptions lim;
    lim.max_radius = 6;
    const Projector cropped(map, 8, lim);
    EXPECT_LT(cropped.bytes() * 8, full.bytes()) << n;
    std::vector<int> kx, ky;
    for (int y = 0; y < n; ++y)
      for (int x = 0; x <= n / 2; ++x) {
        kx.push_back(x);
        ky.push_back(FourierGrid::Freq(y, n));
      }
    for (const Euler e : {Euler{0, 0, 0}, Euler{33, 71, -120}, Euler{-100, 150, 45}}) {
      const Mat3 a = EulerToMatrix(e);
      std::vector<Complex> want(kx.size()), got(kx.size());
      full.SliceAt(a, n, kx.data(), ky.data(), static_cast<int>(kx.size()), want.data());
      cropped.SliceAt(a, n, kx.data(), ky.data(), static_cast<int>(kx.size()), got.data());
      int inside = 0;
      for (std::size_t i = 0; i < kx.size(); ++i) {
        if (kx[i] * kx[i] + ky[i] * ky[i] <= 36) {
          ASSERT_EQ(got[i], want[i]) << n << ": " << kx[i] << " " << ky[i];
          inside += std::abs(want[i]) > 0;
        } else {
          ASSERT_EQ(got[i], Complex(0, 0)) << n << ": " << kx[i] << " " << ky[i];
        }
      }
      EXPECT_GT(inside, 50);  // of the ~63 pixels of the half plane within radius 6
      // Slice (any output box and pixel size) keeps the same limit in 1/Å: a 2n box at half the
      // pixel size has the map's frequencies at the same indices.
      const FourierGrid s = cropped.Slice(a, 2 * n, 4), f = full.Slice(a, 2 * n, 4);
      EXPECT_EQ(s.At(6, 0), f.At(6, 0));
      EXPECT_NE(f.At(7, 0), Complex(0, 0));
      EXPECT_EQ(s.At(7, 0), Complex(0, 0));
    }
    EXPECT_EQ(cropped.PowerSpectrum(6), full.PowerSpectrum(6)) << n;
  }
}

TEST(Projector, RefusesNonCubicMaps) {
  EXPECT_THROW(Projector(Volume(8, 8, 10), 1.0), InvalidInputError);
  EXPECT_THROW(Projector(Volume(8, 8, 8), 0.0), InvalidInputError);
  for (const double r : {-1.0, std::nan(""), 1e12}) {
    ProjectorOptions o;
    o.max_radius = r;
    EXPECT_THROW(Projector(Volume(8, 8, 8), 1.0, o), InvalidInputError) << r;
  }
}

}  // namespace
}  // namespace emkit
