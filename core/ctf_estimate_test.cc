#include "core/ctf_estimate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/fft.h"
#include "core/random.h"

namespace emkit {
namespace {

// White noise through the CTF (with an envelope) plus white noise that did not go through it:
// Thon rings on a flat background, as in a micrograph of thin ice.
Image SimulatedMicrograph(const CtfParams& ctf, int n, double pixel_size, double ring_fraction, uint64_t seed) {
  Rng rng(seed, 1);
  Image a(n, n, 1), b(n, n, 1);
  for (auto& v : a) v = static_cast<float>(rng.Normal());
  for (auto& v : b) v = static_cast<float>(rng.Normal());
  FourierGrid f = Fft(a);
  const Ctf model(ctf);
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < f.half_nx(); ++x) {
      const double kx = x / (n * pixel_size), ky = FourierGrid::Freq(y, n) / (n * pixel_size);
      f.grid()(x, y) *= static_cast<float>(model.Value(kx, ky) * std::exp(-20 * (kx * kx + ky * ky)));
    }
  Image signal = InverseFft(f);
  Image out(n, n, 1);
  const double w = std::sqrt(ring_fraction);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(w * 2 * signal[i] + b[i]);
  return out;
}

double AngleError(double a, double b) {
  const double d = std::fmod(std::fabs(a - b), 180.0);
  return std::min(d, 180 - d);
}

CtfParams Truth(double u, double v, double angle) {
  CtfParams p;
  p.defocus_u = u;
  p.defocus_v = v;
  p.defocus_angle = angle;
  return p;
}

TEST(CtfEstimate, RecoversDefocusAndAstigmatism) {
  // Angles away from 0/90 pin the direction convention (a mirrored y would give 180 - angle).
  for (const CtfParams& truth : {Truth(21000, 19800, 35), Truth(9000, 8400, 118), Truth(30500, 30500, 0)}) {
    const Image mic = SimulatedMicrograph(truth, 1024, 1.2, 0.3, 7);
    CtfEstimateOptions o;
    o.pixel_size = 1.2;
    o.box = 256;
    o.threads = 2;
    const CtfEstimate e = EstimateCtf(mic, o);
    const double mean = 0.5 * (truth.defocus_u + truth.defocus_v);
    EXPECT_NEAR(0.5 * (e.ctf.defocus_u + e.ctf.defocus_v), mean, 0.01 * mean) << truth.defocus_u;
    EXPECT_NEAR(e.astigmatism(), truth.defocus_u - truth.defocus_v, 150) << truth.defocus_u;
    if (truth.defocus_u - truth.defocus_v > 300) {
      EXPECT_LT(AngleError(e.ctf.defocus_angle, truth.defocus_angle), 5);
    }
    EXPECT_GE(e.ctf.defocus_u, e.ctf.defocus_v);
    EXPECT_GT(e.figure_of_merit, 0.1);
    EXPECT_LT(e.fit_resolution, 6.0);  // rings are there to 2.4 Å (Nyquist); the envelope fades them
    EXPECT_EQ(e.tiles, 49);
    EXPECT_EQ(e.spectrum.nx(), 256);
    EXPECT_FALSE(e.frequency.empty());
    EXPECT_EQ(e.frequency.size(), e.correlation.size());
  }
}

TEST(CtfEstimate, FitResolutionFollowsTheRings) {
  // Rings only up to about 8 Å (a strong envelope): the fit resolution stops near there.
  const CtfParams truth = Truth(15000, 14500, 60);
  Rng rng(3, 1);
  const int n = 1024;
  const double px = 1.2;
  Image a(n, n, 1), b(n, n, 1);
  for (auto& v : a) v = static_cast<float>(rng.Normal());
  for (auto& v : b) v = static_cast<float>(rng.Normal());
  FourierGrid f = Fft(a);
  const Ctf model(truth);
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < f.half_nx(); ++x) {
      const double kx = x / (n * px), ky = FourierGrid::Freq(y, n) / (n * px), k = std::hypot(kx, ky);
      f.grid()(x, y) *= static_cast<float>(model.Value(kx, ky) * (k < 1 / 8.0 ? 1 : 0));
    }
  Image s = InverseFft(f);
  for (std::size_t i = 0; i < s.size(); ++i) s[i] = 2 * s[i] + b[i];
  CtfEstimateOptions o;
  o.pixel_size = px;
  o.box = 256;
  o.max_resolution = 10;
  const CtfEstimate e = EstimateCtf(s, o);
  EXPECT_NEAR(0.5 * (e.ctf.defocus_u + e.ctf.defocus_v), 14750, 150);
  EXPECT_GT(e.fit_resolution, 6.5);  // the correlation window reaches past the last ring
  EXPECT_LT(e.fit_resolution, 10.5);
}

TEST(CtfEstimate, RecoversPhaseShift) {
  CtfParams truth = Truth(8000, 7600, 20);
  truth.phase_shift = 70;
  const Image mic = SimulatedMicrograph(truth, 1024, 1.2, 0.3, 11);
  CtfEstimateOptions o;
  o.pixel_size = 1.2;
  o.box = 256;
  o.defocus_min = 3000;
  o.fit_phase_shift = true;
  const CtfEstimate e = EstimateCtf(mic, o);
  EXPECT_NEAR(0.5 * (e.ctf.defocus_u + e.ctf.defocus_v), 7800, 150);
  EXPECT_NEAR(e.ctf.phase_shift, 70, 10);
  o.fit_phase_shift = false;  // without: no phase shift reported
  EXPECT_EQ(EstimateCtf(mic, o).ctf.phase_shift, 0);
}

TEST(CtfEstimate, SameResultForAnyThreadCount) {
  const Image mic = SimulatedMicrograph(Truth(12000, 11000, 80), 768, 1.0, 0.3, 5);
  int tiles = 0;
  const Image a = AverageAmplitudeSpectrum(mic, 256, 1, &tiles), b = AverageAmplitudeSpectrum(mic, 256, 3);
  EXPECT_EQ(tiles, 25);
  ASSERT_TRUE(a.SameShape(b));
  for (std::size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]) << i;
  // Centred: symmetric about (box/2, box/2).
  EXPECT_FLOAT_EQ(a(128 + 10, 128 + 3), a(128 - 10, 128 - 3));
}

TEST(CtfEstimate, DiagnosticImageHasTheFitOnTheRight) {
  const Image mic = SimulatedMicrograph(Truth(15000, 15000, 0), 512, 1.0, 0.5, 9);
  CtfEstimateOptions o;
  o.pixel_size = 1.0;
  o.box = 256;
  const CtfEstimate e = EstimateCtf(mic, o);
  const Image d = e.DiagnosticImage();
  ASSERT_EQ(d.nx(), 256);
  // Left half: the spectrum smoothed; right half: CTF^2 in [-2, 2] up to the fit resolution.
  double sum = 0;
  for (int dy = -1; dy <= 1; ++dy)
    for (int dx = -1; dx <= 1; ++dx) sum += e.spectrum(60 + dx, 100 + dy);
  EXPECT_NEAR(d(60, 100), std::clamp(sum / 9 * 1.5, -2.0, 2.0), 1e-5);
  const Ctf model(e.ctf);
  const double v = model.Value(30 / 256.0, 20 / 256.0);
  ASSERT_LT(std::hypot(30, 20) / 256.0, 1 / e.fit_resolution);
  EXPECT_NEAR(d(128 + 30, 128 + 20), 4 * v * v - 2, 1e-5);
  for (float x : d) {
    EXPECT_GE(x, -2);
    EXPECT_LE(x, 2);
  }
}

TEST(CtfEstimate, RefusesBadOptions) {
  CtfEstimateOptions o;
  EXPECT_THROW(o.Check(), InvalidInputError);  // no pixel size
  o.pixel_size = 1;
  o.Check();
  o.box = 100 + 1;
  EXPECT_THROW(o.Check(), InvalidInputError);
  o.box = 512;
  o.max_resolution = 40;
  EXPECT_THROW(o.Check(), InvalidInputError);
  o.max_resolution = 5;
  EXPECT_THROW(EstimateCtf(Image(300, 300, 1), o), InvalidInputError);  // smaller than the box
}

}  // namespace
}  // namespace emkit
