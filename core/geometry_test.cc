#include "core/geometry.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "core/fft.h"
#include "core/filters.h"

namespace emkit {

TEST(Geometry, EulerMatrixMatchesRelionFormula) {
  // Literal entries of RELION's Euler_angles2matrix for (rot, tilt, psi) = (30, 50, -70).
  const double a = 30 * M_PI / 180, b = 50 * M_PI / 180, g = -70 * M_PI / 180;
  Mat3 m = EulerToMatrix({30, 50, -70});
  EXPECT_NEAR(m(0, 0), std::cos(g) * std::cos(b) * std::cos(a) - std::sin(g) * std::sin(a), 1e-12);
  EXPECT_NEAR(m(0, 2), -std::cos(g) * std::sin(b), 1e-12);
  EXPECT_NEAR(m(1, 2), std::sin(g) * std::sin(b), 1e-12);
  EXPECT_NEAR(m(2, 0), std::sin(b) * std::cos(a), 1e-12);
  EXPECT_NEAR(m(2, 2), std::cos(b), 1e-12);
  // Orthonormal, determinant +1.
  Mat3 p = m * m.Transposed();
  EXPECT_LT(MaxAbsDifference(p, Mat3::Identity()), 1e-12);
}

TEST(Geometry, MatrixToEulerRoundTrip) {
  for (double rot : {-170.0, -30.0, 0.0, 45.0, 120.0})
    for (double tilt : {0.0, 10.0, 90.0, 135.0, 180.0})
      for (double psi : {-90.0, 0.0, 33.0, 179.0}) {
        Mat3 m = EulerToMatrix({rot, tilt, psi});
        Mat3 back = EulerToMatrix(MatrixToEuler(m));
        EXPECT_LT(MaxAbsDifference(m, back), 1e-9) << rot << " " << tilt << " " << psi;
      }
  auto d = ViewingDirection({0, 90, 0});
  EXPECT_NEAR(d[0], 1, 1e-12);
  EXPECT_NEAR(AngleBetween({1, 0, 0}, {0, 1, 0}), 90, 1e-9);
}

TEST(Geometry, RealAndFourierRotationAgree) {
  const int n = 64;
  Image img(n, n);
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) {
      const double dx = x - 40, dy = y - 28;
      img(x, y) = static_cast<float>(std::exp(-(dx * dx + dy * dy) / 18.0));
    }
  Image real = RotateImage(img, 90);
  // Rotating by psi = 90 with RELION's convention moves (40, 28) (offset (8, -4)) to (28, 24).
  int bx = 0, by = 0;
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x)
      if (real(x, y) > real(bx, by)) bx = x, by = y;
  Mat3 a = EulerToMatrix({0, 0, 90});
  // out(x) = in(A^T x): the peak moves to A (8, -4).
  EXPECT_EQ(bx, 32 + static_cast<int>(std::lround(a(0, 0) * 8 + a(0, 1) * -4)));
  EXPECT_EQ(by, 32 + static_cast<int>(std::lround(a(1, 0) * 8 + a(1, 1) * -4)));
  Image four = InverseCentredFft(RotateFourier(CentredFft(img), 37));
  Image real37 = RotateImage(img, 37);
  EXPECT_GT(Correlation(four, real37), 0.98);
}

TEST(Geometry, SymmetryGroupOrdersAndClosure) {
  EXPECT_EQ(SymmetryGroup("C1").order(), 1);
  EXPECT_EQ(SymmetryGroup("c7").order(), 7);
  EXPECT_EQ(SymmetryGroup("D3").order(), 6);
  EXPECT_EQ(SymmetryGroup("T").order(), 12);
  EXPECT_EQ(SymmetryGroup("O").order(), 24);
  EXPECT_EQ(SymmetryGroup("I").order(), 60);
  EXPECT_THROW(SymmetryGroup("X5"), InvalidInputError);
  EXPECT_THROW(SymmetryGroup("C"), InvalidInputError);
  // D<n> has its 2-fold along x (RELION).
  const SymmetryGroup d2_group("D2");
  const auto& d2 = d2_group.matrices();
  bool has_x = false;
  for (const auto& m : d2) has_x |= MaxAbsDifference(m, Mat3::AxisAngle(1, 0, 0, 180)) < 1e-9;
  EXPECT_TRUE(has_x);
  // Icosahedral I2 setting has 2-folds along x, y and z.
  const SymmetryGroup ico_group("I");
  const auto& ico = ico_group.matrices();
  for (auto axis : {std::array<double, 3>{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}) {
    bool found = false;
    for (const auto& m : ico) found |= MaxAbsDifference(m, Mat3::AxisAngle(axis[0], axis[1], axis[2], 180)) < 1e-9;
    EXPECT_TRUE(found);
  }
}

}  // namespace emkit
