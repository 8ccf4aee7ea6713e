// FSC on maps with known answers: identical (1), negated (-1), a hard low-pass (1 inside the
// cut, 0 beyond, resolution at the cut), independent noise halves (SNR / (1 + SNR)).
#include "refine/fsc.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/fft.h"
#include "core/random.h"

namespace emkit {
namespace {

Volume Noise(int n, uint64_t seed, double sd = 1) {
  Volume v(n, n, n);
  Rng rng(seed, 0);
  for (auto& x : v) x = static_cast<float>(rng.Normal(0, sd));
  return v;
}

TEST(Fsc, KnownAnswers) {
  const int n = 32;
  const Volume a = Noise(n, 1);
  for (double f : Fsc(a, a)) EXPECT_NEAR(f, 1.0, 1e-6);
  Volume neg = a;
  for (auto& x : neg) x = -x;
  const auto fn = Fsc(a, neg);
  for (std::size_t s = 1; s < fn.size(); ++s) EXPECT_NEAR(fn[s], -1.0, 1e-6);
  // Hard low-pass at |k| <= 8.
  FourierGrid f = Fft(a);
  for (int z = 0; z < n; ++z)
    for (int y = 0; y < n; ++y)
      for (int x = 0; x <= n / 2; ++x) {
        const int ky = FourierGrid::Freq(y, n), kz = FourierGrid::Freq(z, n);
        if (x * x + ky * ky + kz * kz > 64) f.At(x, ky, kz) = Complex(0, 0);
      }
  // The low-passed map plus independent noise beyond the cut: FSC 1 inside, ~0 (1/sqrt(voxels)) beyond.
  FourierGrid g = Fft(Noise(n, 9));
  for (int z = 0; z < n; ++z)
    for (int y = 0; y < n; ++y)
      for (int x = 0; x <= n / 2; ++x) {
        const int ky = FourierGrid::Freq(y, n), kz = FourierGrid::Freq(z, n);
        if (x * x + ky * ky + kz * kz <= 64) g.At(x, ky, kz) = Complex(0, 0);
      }
  const Volume lp = InverseFft(f), hp = InverseFft(g);
  Volume b = lp;
  for (std::size_t i = 0; i < b.size(); ++i) b[i] += hp[i];
  const auto fl = Fsc(a, b);
  for (int s = 1; s < 8; ++s) EXPECT_NEAR(fl[s], 1.0, 1e-4) << s;
  for (int s = 9; s <= n / 2; ++s) EXPECT_NEAR(fl[s], 0.0, 0.15) << s;
  EXPECT_DOUBLE_EQ(FscResolution(fl, 0.143, n, 2.0), n * 2.0 / 8);
  // Signal + independent noise in each half at SNR 1: FSC ~ 1 / (1 + 1) = 0.5.
  const Volume s = Noise(n, 2);
  Volume h1 = Noise(n, 3), h2 = Noise(n, 4);
  for (std::size_t i = 0; i < s.size(); ++i) h1[i] += s[i], h2[i] += s[i];
  const auto fh = Fsc(h1, h2);
  for (int sh = 4; sh <= n / 2; ++sh) EXPECT_NEAR(fh[sh], 0.5, 0.1) << sh;
}

TEST(Fsc, ResolutionRule) {
  EXPECT_DOUBLE_EQ(FscResolution({1, 0.9, 0.5, 0.2, 0.1, 0.3}, 0.143, 10, 1.5), 10 * 1.5 / 3);
  EXPECT_DOUBLE_EQ(FscResolution({1, 0.9, 0.8}, 0.143, 4, 1.0), 2.0);  // never drops: Nyquist
  EXPECT_DOUBLE_EQ(FscResolution({1, 0.1, 0.8}, 0.143, 4, 1.0), 0.0);
  EXPECT_THROW(Fsc(Volume(8, 8, 8), Volume(8, 8, 4)), std::exception);
}

}  // namespace
}  // namespace emkit
