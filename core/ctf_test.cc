#include "core/ctf.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"

namespace emkit {

// Independent evaluation of science.md's closed form: sin(pi l df k^2 - pi/2 Cs l^3 k^4 + phi + K3).
static double Reference(const CtfParams& p, double kx, double ky) {
  const long double V = p.voltage_kv * 1000.0L;
  const long double lambda = 12.2643247L / std::sqrt(V * (1 + 0.978466e-6L * V));
  const long double k2 = kx * kx + ky * ky;
  const long double theta = std::atan2(ky, kx);
  const long double df = ((p.defocus_u + p.defocus_v) +
                          (p.defocus_u - p.defocus_v) * std::cos(2 * (theta - p.defocus_angle * M_PI / 180))) /
                         2;
  const long double q = p.amplitude_contrast;
  const long double arg = M_PI * lambda * df * k2 - M_PI / 2 * p.cs_mm * 1e7L * lambda * lambda * lambda * k2 * k2 +
                          p.phase_shift * M_PI / 180 + std::atan(q / std::sqrt(1 - q * q));
  return static_cast<double>(std::sin(arg) * std::exp(-p.bfactor * k2 / 4));
}

TEST(Ctf, WavelengthAt300kV) { EXPECT_NEAR(ElectronWavelength(300e3), 0.0196875, 1e-6); }

TEST(Ctf, AmplitudeContrastAtOrigin) {
  CtfParams p;
  p.amplitude_contrast = 0.07;
  Ctf ctf(p);
  EXPECT_NEAR(ctf.Value(0, 0), 0.07, 1e-7);
}

TEST(Ctf, MatchesClosedFormWithAstigmatismPhaseShiftAndBfactor) {
  CtfParams p;
  p.voltage_kv = 200;
  p.cs_mm = 1.4;
  p.amplitude_contrast = 0.1;
  p.defocus_u = 21000;
  p.defocus_v = 18000;
  p.defocus_angle = 33;
  p.phase_shift = 40;
  p.bfactor = 80;
  Ctf ctf(p);
  for (double kx : {0.0, 0.013, -0.05, 0.21})
    for (double ky : {0.0, 0.02, -0.11, 0.3}) EXPECT_NEAR(ctf.Value(kx, ky), Reference(p, kx, ky), 1e-5);
}

TEST(Ctf, FirstZeroOfUnastigmaticCtf) {
  // Without Cs and Q the first zero is where pi lambda df k^2 = pi.
  CtfParams p;
  p.cs_mm = 0;
  p.amplitude_contrast = 0;
  p.defocus_u = p.defocus_v = 10000;
  Ctf ctf(p);
  const double k0 = std::sqrt(1.0 / (ElectronWavelength(300e3) * 10000));
  EXPECT_NEAR(ctf.Value(k0, 0), 0.0, 1e-6);
  EXPECT_GT(ctf.Value(k0 * 0.8, 0), 0.5);
}

TEST(Ctf, HalfImageLayoutMatchesValue) {
  CtfParams p;
  p.defocus_u = 12000;
  p.defocus_v = 9000;
  p.defocus_angle = 20;
  Ctf ctf(p);
  const int n = 64;
  const double pix = 1.5;
  auto half = ctf.HalfImage(n, pix);
  EXPECT_EQ(half.nx(), 33);
  EXPECT_NEAR(half(5, 60), ctf.Value(5 / (n * pix), -4 / (n * pix)), 1e-6);
}

TEST(Ctf, RejectsBadParameters) {
  CtfParams p;
  p.amplitude_contrast = 1.5;
  EXPECT_THROW(Ctf{p}, InvalidInputError);
  p.amplitude_contrast = 0.1;
  p.defocus_u = NAN;
  try {
    Ctf c(p);
    FAIL();
  } catch (const InvalidInputError& e) {
    EXPECT_NE(std::string(e.what()).find("rlnDefocusU"), std::string::npos);
  }
}

}  // namespace emkit
