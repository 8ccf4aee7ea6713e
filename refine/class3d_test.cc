// The pieces of 3D classification checked against known answers: RELION's low-pass of the
// reference, the projector's power spectrum (tau2) against the map's own transform, and RELION's
// SSNR arrays (data vs prior) on known sums.
#include "refine/class3d.h"

#include <gtest/gtest.h>

#include <cmath>
#include <complex>

#include "core/fft.h"
#include "core/projector.h"
#include "refine/backprojector.h"
#include "refine/test_maps.h"

namespace emkit {
namespace {

double ShellPower(const Volume& map, int shell) {
  const int n = map.nx();
  const FourierGrid f = CentredFft(map);
  double sum = 0, count = 0;
  for (int z = -n / 2; z < n - n / 2; ++z)
    for (int y = -n / 2; y < n - n / 2; ++y)
      for (int x = 0; x <= n / 2; ++x)
        if (std::lround(std::sqrt(double(x * x + y * y + z * z))) == shell)
          sum += std::norm(std::complex<double>(f.At(x, y, z))), count += 1;
  return sum / count;
}

TEST(Class3d, LowPassKeepsLowShellsAndZeroesBeyondTheEdge) {
  const Volume map = testing::Blobs(32, testing::ChiralBlobs());
  Volume lp = map;
  LowPassMap(&lp, 5.0, 20.0);  // shell 32 * 5 / 20 = 8; raised cosine over shells 7..9
  for (int s : {1, 3, 6}) EXPECT_NEAR(ShellPower(lp, s) / ShellPower(map, s), 1.0, 1e-4) << s;
  EXPECT_LT(ShellPower(lp, 8) / ShellPower(map, 8), 0.6);
  for (int s : {10, 12, 15}) EXPECT_LT(ShellPower(lp, s), 1e-12 * ShellPower(map, 1)) << s;
}

TEST(Class3d, ProjectorPowerSpectrumIsTheSectionsPower) {
  // The central sections are n x the 3D transform (2D transforms of line integrals): tau2 = n^2 |F|^2 / 2.
  const Volume map = testing::Blobs(32, testing::ChiralBlobs());
  const Projector p(map, 5.0);
  const std::vector<double> tau2 = p.PowerSpectrum(10);
  ASSERT_EQ(tau2.size(), 17u);
  // RELION bins the padded samples by rounded radius (neighbouring shells mix) after dividing the map by the
  // trilinear kernel's sinc^2 (a chiral blob cluster 9 px off-centre in a 64 px padded box: ~15% more power).
  for (int s = 1; s < 10; ++s) {
    const double ratio = tau2[s] / (32.0 * 32.0 * ShellPower(map, s) / 2);
    EXPECT_GT(ratio, 0.95) << s;
    EXPECT_LT(ratio, 1.4) << s;
  }
  EXPECT_EQ(tau2[12], 0.0);  // beyond max_shell
}

TEST(Class3d, SsnrFollowsRelionsRule) {
  // One slice of weight 1 inserted: data_vs_prior = mean over the touched shell of w pad^3 T tau2; with tau2 = 0,
  // RELION's rule 0.001 w^2 (in its weight units); 0 beyond r_max.
  BackProjector bp(32, 2, 8);
  FourierGrid f(32, 32);
  std::vector<float> w(static_cast<std::size_t>(32) * 17, 1.f);
  bp.Insert(f, w.data(), Mat3::Identity());
  std::vector<double> tau2(17, 0.0);
  for (int s = 0; s <= 4; ++s) tau2[s] = 2.0;
  const BackProjector::SsnrArrays a = bp.Ssnr(tau2, 4.0);
  const BackProjector::SsnrArrays b = bp.Ssnr(tau2, 8.0);
  for (int s = 1; s <= 4; ++s) {
    EXPECT_GT(a.data_vs_prior[s], 0) << s;
    EXPECT_NEAR(b.data_vs_prior[s] / a.data_vs_prior[s], 2.0, 1e-9) << s;  // proportional to T
    EXPECT_GT(a.sigma2[s], 0) << s;
  }
  const BackProjector::SsnrArrays big = bp.Ssnr(tau2, 4.0, 1000.0);  // weights in units 1000x larger
  EXPECT_NEAR(big.data_vs_prior[6] / a.data_vs_prior[6], 1e6, 1.0);  // 0.001 (unit w)^2
  for (int s = 9; s < 17; ++s) EXPECT_EQ(a.data_vs_prior[s], 0.0) << s;
}

}  // namespace
}  // namespace emkit
