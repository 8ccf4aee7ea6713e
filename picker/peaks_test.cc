#include "picker/peaks.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/random.h"

namespace emkit {
namespace {

void AddBlob(Image* img, double cx, double cy, double amp, double sigma) {
  for (int y = 0; y < img->ny(); ++y)
    for (int x = 0; x < img->nx(); ++x)
      (*img)(x, y) +=
          static_cast<float>(amp * std::exp(-((x - cx) * (x - cx) + (y - cy) * (y - cy)) / (2 * sigma * sigma)));
}

TEST(FindPeaks, FindsBlobsSortedByScore) {
  Image s(100, 80);
  AddBlob(&s, 20, 30, 1.0, 3);
  AddBlob(&s, 70, 50, 2.0, 3);
  AddBlob(&s, 50, 10, 0.5, 3);
  PeakOptions opt;
  opt.threshold = 0.3;
  opt.min_distance = 10;
  auto p = FindPeaks(s, opt);
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0].x, 70);
  EXPECT_EQ(p[0].y, 50);
  EXPECT_NEAR(p[0].fom, 2.0, 1e-5);
  EXPECT_EQ(p[1].x, 20);
  EXPECT_EQ(p[1].y, 30);
  EXPECT_EQ(p[2].x, 50);
  EXPECT_EQ(p[2].y, 10);
  opt.threshold = 0.7;
  EXPECT_EQ(FindPeaks(s, opt).size(), 2u);
  opt.threshold = 0;
  opt.max_peaks = 1;
  EXPECT_EQ(FindPeaks(s, opt).size(), 1u);
}

TEST(FindPeaks, MinimumDistanceSuppressesTheWeakerNeighbour) {
  Image s(64, 64);
  AddBlob(&s, 20, 20, 1.0, 1.5);
  AddBlob(&s, 28, 20, 0.9, 1.5);  // 8 px away
  PeakOptions opt;
  opt.threshold = 0.2;
  opt.min_distance = 8.5;
  auto p = FindPeaks(s, opt);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].x, 20);
  opt.min_distance = 7.5;
  EXPECT_EQ(FindPeaks(s, opt).size(), 2u);
}

TEST(FindPeaks, BorderMaskAndPlateaus) {
  Image s(40, 40);
  s(2, 20) = 5;  // near the left edge
  s(20, 20) = 3;
  s(30, 30) = 4;
  PeakOptions opt;
  opt.threshold = 1;
  opt.min_distance = 3;
  opt.border = 3;
  Image mask(40, 40, 1, 1.0f);
  mask(30, 30) = 0;
  opt.mask = &mask;
  auto p = FindPeaks(s, opt);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].x, 20);
  // A flat plateau gives one peak at its first pixel in (y, x) order.
  Image flat(20, 20);
  for (int y = 8; y < 11; ++y)
    for (int x = 8; x < 11; ++x) flat(x, y) = 1;
  PeakOptions o2;
  o2.threshold = 0.5;
  o2.min_distance = 5;
  p = FindPeaks(flat, o2);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].x, 8);
  EXPECT_EQ(p[0].y, 8);
}

// Peak scores of a micrograph: `background` maxima of noise around 1.2 (sd 0.5) and `particles`
// around 4 (sd 0.8), as LoG scores look on simulated micrographs.
std::vector<float> PeakScores(int background, int particles, std::uint64_t seed) {
  Rng rng(seed, 0);
  std::vector<float> v;
  for (int i = 0; i < background; ++i) v.push_back(static_cast<float>(rng.Normal(1.2, 0.5)));
  for (int i = 0; i < particles; ++i) v.push_back(static_cast<float>(rng.Normal(4.0, 0.8)));
  return v;
}

TEST(AdaptivePeakThreshold, SplitsParticlesFromBackgroundOnTheMicrographsOwnScale) {
  const double sparse = AdaptivePeakThreshold(PeakScores(300, 60, 1), 0);
  const double dense = AdaptivePeakThreshold(PeakScores(150, 200, 2), 0);
  // Between the two modes (measured: 2.30 and 2.69), wherever the particles are few or many.
  for (double t : {sparse, dense}) {
    EXPECT_GT(t, 2.0);
    EXPECT_LT(t, 3.2);
  }
  // Scores compressed as on a densely packed micrograph (particles inflate the robust sigma the
  // LoG map is expressed in): the cut follows, where a fixed threshold would lose particles.
  std::vector<float> compressed = PeakScores(300, 60, 1);
  for (auto& v : compressed) v *= 0.6f;
  EXPECT_NEAR(AdaptivePeakThreshold(compressed, 0), 0.6 * sparse, 1e-5);
  // A few huge scores (ice, carbon) do not move the cut.
  std::vector<float> with_outliers = PeakScores(300, 60, 1);
  for (int i = 0; i < 5; ++i) with_outliers.push_back(60.0f + i);
  EXPECT_NEAR(AdaptivePeakThreshold(with_outliers, 0), sparse, 0.15);
  // Noise only: the cut falls inside the noise, so the floor holds.
  EXPECT_EQ(AdaptivePeakThreshold(PeakScores(300, 0, 3), 2.2), 2.2);
  EXPECT_EQ(AdaptivePeakThreshold({}, 2.2), 2.2);
  EXPECT_EQ(AdaptivePeakThreshold({5.0f}, 2.2), 2.2);
  // Deterministic and independent of the order of the scores.
  std::vector<float> reversed = PeakScores(300, 60, 1);
  std::reverse(reversed.begin(), reversed.end());
  EXPECT_EQ(AdaptivePeakThreshold(reversed, 0), sparse);
}

}  // namespace
}  // namespace emkit
