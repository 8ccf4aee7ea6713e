#include "picker/preprocess.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/random.h"

namespace emkit {
namespace {

TEST(PreprocessMicrograph, BinsToTheWorkingPixelSizeAndKeepsPositions) {
  Image mic(512, 384);
  Rng rng(1, 0);
  for (auto& v : mic) v = static_cast<float>(rng.Normal());
  // A dark disk (radius 20 px) at (300, 100) in original pixels.
  for (int y = 0; y < mic.ny(); ++y)
    for (int x = 0; x < mic.nx(); ++x)
      if (std::hypot(x - 300, y - 100) < 20) mic(x, y) -= 5;
  PreprocessOptions opt;
  opt.particle_diameter = 40 * 2.0;  // Å, pixel size 2 Å -> 40 px
  opt.diameter_px_target = 10;       // -> bin 4
  opt.invert = true;
  auto pre = PreprocessMicrograph(mic, 2.0, opt);
  EXPECT_EQ(pre.image.nx(), 128);
  EXPECT_EQ(pre.image.ny(), 96);
  EXPECT_DOUBLE_EQ(pre.bin_factor, 4.0);
  EXPECT_DOUBLE_EQ(pre.pixel_size, 8.0);
  EXPECT_EQ(pre.original_nx, 512);
  // The centroid of the bright (inverted) disk sits at its centre in binned pixels.
  double sx = 0, sy = 0, sw = 0;
  for (int y = 0; y < pre.image.ny(); ++y)
    for (int x = 0; x < pre.image.nx(); ++x)
      if (pre.image(x, y) > 8) sx += x * pre.image(x, y), sy += y * pre.image(x, y), sw += pre.image(x, y);
  ASSERT_GT(sw, 0);
  EXPECT_NEAR(pre.ToOriginal(sx / sw), 300, 1.5);
  EXPECT_NEAR(pre.ToOriginal(sy / sw), 100, 1.5);
  EXPECT_DOUBLE_EQ(pre.ToBinned(300), 75);
}

TEST(PreprocessMicrograph, RobustNormalisationIgnoresOutliers) {
  Image mic(256, 256);
  Rng rng(2, 0);
  for (auto& v : mic) v = static_cast<float>(10 + 3 * rng.Normal());
  for (int y = 0; y < 20; ++y)
    for (int x = 0; x < 20; ++x) mic(x, y) = 1000;  // a bright contamination blob
  PreprocessOptions opt;
  auto pre = PreprocessMicrograph(mic, 1.0, opt);
  EXPECT_EQ(pre.image.nx(), 256);
  // Median 0 and MAD-based spread 1 over the noise: a noise pixel is O(1), the blob huge.
  std::vector<float> v(pre.image.begin(), pre.image.end());
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  EXPECT_NEAR(v[v.size() / 2], 0, 0.05);
  EXPECT_NEAR(pre.image(100, 100), (mic(100, 100) - 10) / 3, 0.1);
  opt.robust_normalise = false;
  pre = PreprocessMicrograph(mic, 1.0, opt);
  EXPECT_NEAR(ComputeStats(pre.image).stddev, 1.0, 1e-3);
}

TEST(PreprocessMicrograph, HighPassRemovesAGradient) {
  Image mic(128, 128);
  Rng rng(3, 0);
  for (int y = 0; y < 128; ++y)
    for (int x = 0; x < 128; ++x) mic(x, y) = static_cast<float>(rng.Normal() + 20.0 * std::sin(M_PI * 2 * x / 128.0));
  PreprocessOptions opt;
  opt.highpass_angstrom = 40;  // the ramp has a 128 Å period at 1 Å/px
  opt.robust_normalise = false;
  auto pre = PreprocessMicrograph(mic, 1.0, opt);
  double left = 0, right = 0;
  for (int y = 0; y < 128; ++y) left += pre.image(32, y), right += pre.image(96, y);
  EXPECT_NEAR(left / 128, 0, 0.3);
  EXPECT_NEAR(right / 128, 0, 0.3);
}

// A carbon-like region (darker, 3x the noise) over 40% of the micrograph: one global robust
// scale squeezes the ice noise; the local window restores unit noise in the ice and the carbon,
// away from the edge (window 32 px).
TEST(PreprocessMicrograph, LocalNormalisationEqualisesCarbonAndIce) {
  Image mic(256, 256);
  Rng rng(4, 0);
  for (int y = 0; y < 256; ++y)
    for (int x = 0; x < 256; ++x)
      mic(x, y) = static_cast<float>(x < 102 ? -30 + 3 * rng.Normal() : 2 * rng.Normal() + 0.02 * y);
  auto std_of = [](const Image& im, int x0, int x1) {
    double s = 0, s2 = 0, n = 0;
    for (int y = 20; y < 236; ++y)
      for (int x = x0; x < x1; ++x) s += im(x, y), s2 += double(im(x, y)) * im(x, y), ++n;
    return std::make_pair(s / n, std::sqrt(s2 / n - (s / n) * (s / n)));
  };
  PreprocessOptions opt;
  auto global = PreprocessMicrograph(mic, 1.0, opt);
  EXPECT_LT(std_of(global.image, 140, 240).second, 0.5);  // the bimodal histogram inflates the MAD
  opt.local_normalise_angstrom = 32;
  auto local = PreprocessMicrograph(mic, 1.0, opt);
  for (auto [x0, x1] : {std::make_pair(10, 80), std::make_pair(140, 240)}) {
    auto [mean, sd] = std_of(local.image, x0, x1);
    EXPECT_NEAR(mean, 0, 0.05) << x0;
    EXPECT_NEAR(sd, 1, 0.05) << x0;
  }
  // Within the window of the edge the two regions mix; beyond it nothing depends on the other side.
  Image ice_only = mic;
  for (int y = 0; y < 256; ++y)
    for (int x = 0; x < 102; ++x) ice_only(x, y) = 0;
  auto local_ice = PreprocessMicrograph(ice_only, 1.0, opt);
  EXPECT_FLOAT_EQ(local_ice.image(200, 128), local.image(200, 128));
  opt.local_normalise_angstrom = -1;
  EXPECT_THROW(PreprocessMicrograph(mic, 1.0, opt), std::exception);
}

TEST(PreprocessMicrograph, RejectsBadOptions) {
  Image mic(64, 64);
  PreprocessOptions opt;
  EXPECT_THROW(PreprocessMicrograph(mic, 0, opt), std::exception);
  opt.threads = 0;
  EXPECT_THROW(PreprocessMicrograph(mic, 1, opt), std::exception);
  opt.threads = 1;
  opt.highpass_angstrom = 10;
  opt.lowpass_angstrom = 20;
  EXPECT_THROW(PreprocessMicrograph(mic, 1, opt), std::exception);
}

}  // namespace
}  // namespace emkit
