// Post-processing pieces with known answers: phase randomisation keeps every amplitude and
// decorrelates the map beyond the cut; the corrected-FSC formula; a straight-line fit through
// exact points; the Guinier B-factor of a flat spectrum blurred by a known B; the resolution of
// half maps whose common signal stops at a known shell; the other half map's name.
#include "refine/postprocess.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "core/fft.h"
#include "core/random.h"
#include "refine/fsc.h"
#include "refine/mask3d.h"

namespace emkit {
namespace {

Volume Noise(int n, uint64_t seed, double sd = 1) {
  Volume v(n, n, n);
  Rng rng(seed, 0);
  for (auto& x : v) x = static_cast<float>(rng.Normal(0, sd));
  return v;
}

// Keeps coefficients with round(|k|) <= shell (and scales them by exp(-B s²/4) when b != 0).
Volume Shaped(const Volume& v, int shell, double bfactor, double apix) {
  FourierGrid f = Fft(v);
  ForEachCoefficient(f, [&](std::size_t i, int kx, int ky, int kz) {
    const double r = std::sqrt(double(kx) * kx + double(ky) * ky + double(kz) * kz);
    const double s = r / (v.nx() * apix);
    if (std::lround(r) > shell)
      f.data()[i] = 0;
    else
      f.data()[i] *= float(std::exp(-bfactor * s * s / 4));
  });
  return InverseFft(f);
}

TEST(Postprocess, PhaseRandomisationKeepsAmplitudesAndDecorrelatesBeyondTheCut) {
  for (int n : {32, 33}) {
    SCOPED_TRACE(n);
    const Volume a = Noise(n, 3);
    const int cut = 8;
    const Volume b = RandomizePhasesBeyond(a, cut, 7, 1);
    const FourierGrid fa = Fft(a), fb = Fft(b);
    double worst = 0;
    for (std::size_t i = 0; i < fa.size(); ++i)
      worst = std::max(worst, double(std::abs(std::abs(fa.data()[i]) - std::abs(fb.data()[i]))));
    EXPECT_LT(worst, 1e-5);  // amplitudes ~0.2 here: kept to float rounding, the map stays real
    const std::vector<double> fsc = Fsc(a, b);
    for (int s = 1; s < cut; ++s) EXPECT_NEAR(fsc[s], 1.0, 1e-5) << "shell " << s;  // |k| < 7.5 untouched
    double mean_abs = 0;
    int count = 0;
    for (int s = cut + 1; s < static_cast<int>(fsc.size()); ++s) {
      EXPECT_LT(std::fabs(fsc[s]), 0.25) << "shell " << s;  // hundreds of coefficients per shell
      mean_abs += std::fabs(fsc[s]);
      ++count;
    }
    EXPECT_LT(mean_abs / count, 0.06);
    // The seed decides: same seed, same map; another seed, another one.
    const Volume again = RandomizePhasesBeyond(a, cut, 7, 1), other = RandomizePhasesBeyond(a, cut, 8, 1);
    EXPECT_EQ(std::vector<float>(again.begin(), again.end()), std::vector<float>(b.begin(), b.end()));
    EXPECT_LT(Fsc(b, other)[cut + 4], 0.3);
  }
}

TEST(Postprocess, CorrectedFscFormula) {
  const std::vector<double> t = {1, 0.99, 0.9, 0.8, 0.5, 0.5, 0.5, 0.3}, n = {1, 0.99, 0.9, 0.6, 0.2, 0.2, 0.2, 0.3};
  const std::vector<double> c = CorrectedFsc(t, n, 3);
  for (int s = 0; s < 5; ++s) EXPECT_DOUBLE_EQ(c[s], t[s]) << s;  // below randomize shell + 2
  EXPECT_DOUBLE_EQ(c[5], 0.3 / 0.8);
  EXPECT_DOUBLE_EQ(c[6], 0.3 / 0.8);
  EXPECT_DOUBLE_EQ(c[7], 0.0);  // all of the masked FSC explained by the mask
}

TEST(Postprocess, StraightLineFitOfExactPoints) {
  std::vector<GuinierPoint> p;
  for (int i = 0; i < 20; ++i) p.push_back({0.001 * i, 2 - 30 * 0.001 * i, i >= 5 ? 1.0 : 0.0});
  p[2].y = 50;  // weight 0: ignored
  const LineFit f = FitStraightLine(p);
  EXPECT_NEAR(f.slope, -30, 1e-9);
  EXPECT_NEAR(f.intercept, 2, 1e-9);
  EXPECT_NEAR(f.correlation, 1, 1e-9);
}

TEST(Postprocess, AutoBFactorRecoversTheBlurOfAFlatSpectrum) {
  const int n = 64;
  const double apix = 1.5, blur = 150;  // Nyquist 3 Å
  const Volume blurred = Shaped(Noise(n, 11), n, blur, apix);
  PostprocessOptions o;
  o.pixel_size = apix;
  o.auto_bfactor = true;
  const PostprocessResult r = Postprocess(blurred, blurred, nullptr, o);  // FSC 1: weights 1
  std::printf("fitted B %.1f (blur %.0f), r^2 %.4f\n", r.bfactor, blur, r.guinier_fit.correlation);
  EXPECT_NEAR(r.bfactor, -blur, 0.05 * blur);
  EXPECT_GT(r.guinier_fit.correlation, 0.95);
  // Sharpening with it flattens the spectrum again: the sharpened Guinier plot has ~no slope.
  std::vector<GuinierPoint> sharpened = r.guinier_sharpened;
  for (std::size_t i = 0; i < sharpened.size(); ++i) sharpened[i].w = r.guinier_weighted[i].w;
  sharpened.back().w = 0;  // the Nyquist shell lost its corners beyond Nyquist
  EXPECT_LT(std::fabs(4 * FitStraightLine(sharpened).slope), 0.03 * blur);
  EXPECT_NEAR(r.resolution_A, 3.0, 1e-9);  // FSC 1 to Nyquist
  // An ad-hoc B is applied as given: exp(-B s²/4) on the amplitudes.
  PostprocessOptions adhoc = o;
  adhoc.auto_bfactor = false;
  adhoc.bfactor = -100;
  adhoc.fsc_weighting = false;
  const PostprocessResult a = Postprocess(blurred, blurred, nullptr, adhoc);
  EXPECT_EQ(a.bfactor, -100);
  // (A shell averages |k| within +-0.5 of its index, hence 0.01; the Nyquist shell loses its
  // corners beyond Nyquist.)
  for (std::size_t i = 1; i + 1 < a.guinier_in.size(); ++i)
    EXPECT_NEAR(a.guinier_sharpened[i].y - a.guinier_in[i].y, 100 * a.guinier_in[i].x / 4, 0.01) << i;
}

TEST(Postprocess, DividesByTheMtf) {
  const int n = 32;
  const double apix = 1.0;
  const Volume v = Noise(n, 31);
  // MTF(k) = 1 - k (k in 1/px, Nyquist 0.5) on 11 points; the detector's pixels as the map's.
  MtfCurve mtf;
  for (int i = 0; i <= 10; ++i) mtf.inverse_pixel.push_back(0.05 * i), mtf.value.push_back(1 - 0.05 * i);
  FourierGrid f = Fft(v);
  const FourierGrid before = f;
  DivideByMtf(&f, mtf, apix, apix);
  // RELION's lookup: element floor(k / step) with step = (0.5 - 0) / 11 (not / 10), then linear
  // interpolation between the table's points: 1 - k, except at both ends, held constant.
  const double step = 0.5 / 11;
  ForEachCoefficient(f, [&](std::size_t i, int kx, int ky, int kz) {
    const double k = std::sqrt(double(kx) * kx + double(ky) * ky + double(kz) * kz) / n;
    if (k >= 0.5) return;
    const int i0 = static_cast<int>(std::floor(k / step));
    const double m = i0 <= 0 ? 1.0 : i0 >= 10 ? 0.5 : 1 - k;
    ASSERT_NEAR(std::abs(f.data()[i]), std::abs(before.data()[i]) / m, 1e-4 * std::abs(before.data()[i]) + 1e-9);
  });
  // Postprocess: the Guinier plot after the MTF sits ln(1/MTF) above the original.
  PostprocessOptions o;
  o.pixel_size = apix;
  o.mtf.inverse_pixel = {0, 0.5};
  o.mtf.value = {0.5, 0.5};
  const PostprocessResult r = Postprocess(v, v, nullptr, o);
  ASSERT_EQ(r.guinier_invmtf.size(), r.guinier_in.size());
  for (std::size_t i = 0; i + 1 < r.guinier_in.size(); ++i)
    EXPECT_NEAR(r.guinier_invmtf[i].y - r.guinier_in[i].y, std::log(2.0), 1e-5) << i;
}

TEST(Postprocess, ResolutionWhereTheCommonSignalStops) {
  const int n = 48, cut = 12;
  const double apix = 2;  // resolution of shell 12: 48 x 2 / 12 = 8 Å
  const Volume signal = Shaped(Noise(n, 21), cut, 0, 1);
  Volume h1 = signal, h2 = signal;
  const Volume e1 = Noise(n, 22, 0.02), e2 = Noise(n, 23, 0.02);
  for (std::size_t i = 0; i < h1.size(); ++i) h1[i] += e1[i], h2[i] += e2[i];
  PostprocessOptions o;
  o.pixel_size = apix;
  o.seed = 5;
  const PostprocessResult r = Postprocess(h1, h2, nullptr, o);
  EXPECT_EQ(r.resolution_shell, cut);
  EXPECT_NEAR(r.resolution_A, 8.0, 1e-9);
  EXPECT_FALSE(r.masked);
  // Masked: phases randomised from where the unmasked FSC drops below 0.8 (shell 13). The mask
  // spreads the common signal over a few shells beyond the cut; RELION's rule keeps the masked FSC
  // uncorrected up to two shells beyond the randomisation shell, so the resolution lies between
  // the cut and there, and the corrected FSC is ~0 from then on.
  const Volume mask = SoftSphereMask(n, 18, 4);
  const PostprocessResult m = Postprocess(h1, h2, &mask, o);
  EXPECT_TRUE(m.masked);
  EXPECT_EQ(m.randomize_shell, cut + 1);
  EXPECT_GE(m.resolution_shell, cut);
  EXPECT_LE(m.resolution_shell, cut + 2);
  for (int s = 1; s <= cut; ++s) EXPECT_GT(m.fsc_corrected[s], 0.9) << s;
  for (int s = cut + 3; s <= n / 2; ++s) EXPECT_LT(std::fabs(m.fsc_corrected[s]), 0.2) << s;
  ASSERT_EQ(m.sharpened_masked.size(), m.sharpened.size());
  EXPECT_EQ(m.sharpened_masked(0, 0, 0), 0.0f);  // the mask is 0 in the corner
}

TEST(Postprocess, SkipsAMaskThatMissesTheSignal) {
  // Signal in a ball at the centre, noise everywhere; a mask in a corner sees noise only, so its
  // corrected FSC falls at once and the unmasked FSC is used (unless forced), with a warning.
  const int n = 32;
  const Volume ball = SoftSphereMask(n, 8, 2);
  Volume h1 = Shaped(Noise(n, 41), 10, 0, 1), h2;
  for (std::size_t i = 0; i < h1.size(); ++i) h1[i] *= ball[i];
  h2 = h1;
  const Volume e1 = Noise(n, 42, 0.01), e2 = Noise(n, 43, 0.01);
  for (std::size_t i = 0; i < h1.size(); ++i) h1[i] += e1[i], h2[i] += e2[i];
  Volume corner(n, n, n, 0.0f);
  for (int z = 0; z < 8; ++z)
    for (int y = 0; y < 8; ++y)
      for (int x = 0; x < 8; ++x) corner(x, y, z) = 1;
  PostprocessOptions o;
  o.pixel_size = 1;
  const PostprocessResult r = Postprocess(h1, h2, &corner, o);
  EXPECT_TRUE(r.mask_skipped);
  EXPECT_EQ(r.fsc_corrected, r.fsc_unmasked);
  EXPECT_GE(r.resolution_shell, 9);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("unmasked FSC extends beyond"), std::string::npos);
  o.force_mask = true;
  const PostprocessResult forced = Postprocess(h1, h2, &corner, o);
  EXPECT_FALSE(forced.mask_skipped);
  EXPECT_LT(forced.resolution_shell, r.resolution_shell);
}

TEST(Postprocess, RefusesBadInputs) {
  PostprocessOptions o;
  o.pixel_size = 1;
  const Volume a(16, 16, 16, 1.0f), b(16, 16, 14, 1.0f);
  EXPECT_THROW(Postprocess(a, b, nullptr, o), InvalidInputError);
  Volume mask(16, 16, 16, 1.5f);
  EXPECT_THROW(Postprocess(a, a, &mask, o), InvalidInputError);
  o.pixel_size = 0;
  EXPECT_THROW(Postprocess(a, a, nullptr, o), InvalidInputError);
  o.pixel_size = 1;
  o.auto_bfactor = true;
  o.bfactor = -50;
  EXPECT_THROW(o.Check(), InvalidInputError);
}

TEST(Postprocess, OtherHalfMapName) {
  EXPECT_EQ(OtherHalfMapName("Refine3D/job1/run_half1_class001_unfil.mrc"),
            "Refine3D/job1/run_half2_class001_unfil.mrc");
  EXPECT_EQ(OtherHalfMapName("run_half2_unfil.mrc"), "run_half1_unfil.mrc");
  EXPECT_EQ(OtherHalfMapName("half1/map.mrc"), "");  // the folder does not count
  EXPECT_EQ(OtherHalfMapName("a_half1_b_half1.mrc"), "a_half2_b_half2.mrc");
}

}  // namespace
}  // namespace emkit
