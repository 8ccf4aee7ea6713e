#include "core/fft.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/filters.h"
#include "core/geometry.h"
#include "core/random.h"

namespace emkit {

TEST(Fft, DeltaAndConstant) {
  Image img(8, 6, 1, 0.f);
  img(0, 0) = 48.f;
  FourierGrid f = Fft(img);
  EXPECT_EQ(f.half_nx(), 5);
  for (auto v : f.grid()) EXPECT_NEAR(std::abs(v - Complex(1, 0)), 0, 1e-6);  // forward scaled by 1/N
  Image c(8, 6, 1, 2.f);
  FourierGrid fc = Fft(c);
  EXPECT_NEAR(fc.At(0, 0).real(), 2.f, 1e-6);
  EXPECT_NEAR(std::abs(fc.At(1, 1)), 0, 1e-6);
}

TEST(Fft, CosineLandsOnItsFrequency) {
  const int n = 32;
  Image img(n, n);
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) img(x, y) = std::cos(2 * M_PI * (3.0 * x + 5.0 * y) / n);
  FourierGrid f = Fft(img);
  EXPECT_NEAR(f.At(3, 5).real(), 0.5, 1e-5);
  EXPECT_NEAR(f.At(3, -5).real(), 0.0, 1e-5);
  EXPECT_EQ(FourierGrid::Freq(31, 32), -1);
  EXPECT_EQ(FourierGrid::Freq(16, 32), -16);
  EXPECT_EQ(FourierGrid::Freq(2, 5), 2);
  EXPECT_EQ(FourierGrid::Freq(3, 5), -2);
}

TEST(Fft, RoundTrip2D3DAndOddSizes) {
  Rng r(1, 1);
  for (auto dims : {std::array<int, 3>{64, 64, 1}, {45, 33, 1}, {16, 16, 16}, {15, 12, 9}}) {
    Image img(dims[0], dims[1], dims[2]);
    for (auto& v : img) v = static_cast<float>(r.Normal());
    Image back = InverseFft(Fft(img, 2), 2);
    ASSERT_TRUE(back.SameShape(img));
    for (std::size_t i = 0; i < img.size(); ++i) ASSERT_NEAR(back[i], img[i], 1e-4);
  }
}

// The overwriting inverse transforms give the values of the copying ones, bit for bit, and leave
// the transform's size alone (3D reconstructions use them to hold one padded volume less).
TEST(Fft, OverwritingInverseEqualsCopyingInverse) {
  Rng r(3, 3);
  for (auto dims : {std::array<int, 3>{32, 32, 1}, {16, 16, 16}, {15, 12, 9}}) {
    Image img(dims[0], dims[1], dims[2]);
    for (auto& v : img) v = static_cast<float>(r.Normal());
    const FourierGrid f = Fft(img, 2);
    const Image a = InverseFft(f, 2);
    FourierGrid g = f;
    Image b;
    InverseFftOverwriting(&g, &b, 2);
    ASSERT_TRUE(b.SameShape(a));
    for (std::size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]) << i;
    EXPECT_EQ(g.size(), f.size());
    const Image ca = InverseCentredFft(f, 2);
    FourierGrid h = f;
    const Image cb = InverseCentredFftOverwriting(&h, 2);
    for (std::size_t i = 0; i < ca.size(); ++i) ASSERT_EQ(ca[i], cb[i]) << i;
  }
}

TEST(Fft, ThreadedEqualsSerialAndPlansCached) {
  Rng r(2, 2);
  Image img(256, 256);
  for (auto& v : img) v = static_cast<float>(r.Normal());
  FourierGrid a = Fft(img, 1), b = Fft(img, 2);
  const int before = FftCachedPlanCount();
  Fft(img, 1);
  EXPECT_EQ(FftCachedPlanCount(), before);
  double maxdiff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) maxdiff = std::max<double>(maxdiff, std::abs(a.data()[i] - b.data()[i]));
  EXPECT_LT(maxdiff, 1e-6);
}

TEST(Fft, ShiftFourierMovesImage) {
  const int n = 32;
  Image img(n, n);
  img(10, 12) = 1;
  FourierGrid f = Fft(img);
  ShiftFourier(&f, 3, -2);
  Image s = InverseFft(f);
  EXPECT_NEAR(s(13, 10), 1.f, 1e-5);
}

TEST(Fft, FscOfIdenticalIsOne) {
  Rng r(4, 4);
  Image img(32, 32);
  for (auto& v : img) v = static_cast<float>(r.Normal());
  FourierGrid f = Fft(img);
  auto fsc = FourierShellCorrelation(f, f);
  for (std::size_t i = 1; i < fsc.size(); ++i) EXPECT_NEAR(fsc[i], 1.0, 1e-9);
  auto ps = RadialPowerSpectrum(f);
  EXPECT_EQ(ps.size(), 17u);
}

}  // namespace emkit
