// RELION's auto-refine schedule step by step (values from ml_optimiser.cpp's rules), the expected
// accuracy against the noise level, and the gold-standard pieces of the back-projector (half-map
// FSC, joining the halves at low resolution, tau2 from the FSC).
#include "refine/auto_sampling.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/projector.h"
#include "core/random.h"
#include "refine/backprojector.h"
#include "refine/particle_prep.h"
#include "refine/test_maps.h"

namespace emkit {
namespace {

TEST(AutoSampling, FinerOnlyWhenResolutionAndChangesStall) {
  AutoSamplingOptions opt;
  opt.pixel_size = 2;
  AutoSampling s;
  s.acc_rot = 3;  // degrees: 7.5 (order 2 oversampled) is not fine enough
  s.acc_trans = 1;
  s.changes_offsets = 0.8;
  EXPECT_FALSE(UpdateAngularSampling(opt, &s));  // the resolution still improves
  s.iter_wo_resolution_gain = 1;
  EXPECT_FALSE(UpdateAngularSampling(opt, &s));  // the hidden variables still change
  s.iter_wo_large_changes = 1;
  ASSERT_TRUE(UpdateAngularSampling(opt, &s));
  EXPECT_EQ(s.healpix_order, 3);
  EXPECT_FALSE(s.local);
  // Translations (Å): coarse step 2 x min(1.5, 0.75 acc) = 1.5 (fine 0.75); range min(1.3 x 10,
  // 5 x 0.8) = 4 > 4 coarse steps (6) is false, so 4 Å.
  EXPECT_NEAR(s.offset_step_px * opt.pixel_size, 1.5, 1e-12);
  EXPECT_NEAR(s.fine_offset_step_px() * opt.pixel_size, 0.75, 1e-12);
  EXPECT_NEAR(s.offset_range_px * opt.pixel_size, 4.0, 1e-12);
  EXPECT_EQ(s.iter_wo_resolution_gain, 0);
  EXPECT_EQ(s.iter_wo_large_changes, 0);
  // From order 4 on: local searches with sigma = 2 steps.
  s.iter_wo_resolution_gain = s.iter_wo_large_changes = 1;
  ASSERT_TRUE(UpdateAngularSampling(opt, &s));
  EXPECT_EQ(s.healpix_order, 4);
  EXPECT_TRUE(s.local);
  EXPECT_NEAR(s.sigma_angles_deg, 3.75, 1e-12);  // 2 x 1.875
  // Converged only once the step is below 75% of the accuracy.
  EXPECT_FALSE(CheckConvergence(&s));
  s.acc_rot = 3;  // 1.875 < 2.25
  s.iter_wo_resolution_gain = s.iter_wo_large_changes = 1;
  EXPECT_FALSE(UpdateAngularSampling(opt, &s));
  EXPECT_TRUE(s.fine_enough);
  EXPECT_EQ(s.healpix_order, 4);
  EXPECT_TRUE(CheckConvergence(&s));
}

TEST(AutoSampling, HiddenVariableChangesCountAgainstTheSmallestSeen) {
  AutoSamplingOptions opt;
  AutoSampling s;  // order 2: 7.5 degrees; offsets 1 px at 1 Å/px (fine: 0.5 Å)
  UpdateHiddenVariableChanges(20, 3, opt, &s);
  EXPECT_EQ(s.iter_wo_large_changes, 0);  // large against the initial 999
  UpdateHiddenVariableChanges(10, 2, opt, &s);
  EXPECT_EQ(s.iter_wo_large_changes, 0);  // still getting smaller by more than 3%
  UpdateHiddenVariableChanges(10.2, 2.01, opt, &s);
  EXPECT_EQ(s.iter_wo_large_changes, 1);  // within 3% of the smallest
  UpdateHiddenVariableChanges(2.5, 0.3, opt, &s);
  EXPECT_EQ(s.iter_wo_large_changes, 0);  // 0.3 Å is 60% of the fine offset step
  UpdateHiddenVariableChanges(2.5, 0.19, opt, &s);
  EXPECT_EQ(s.iter_wo_large_changes, 1);  // below 40% of the fine steps counts too
}

TEST(AutoSampling, ExpectedAccuracyGrowsWithTheNoise) {
  const int n = 32;
  const Volume map = testing::Blobs(n, {{4, 0, 0, 2, 1}, {-3, 5, 1, 2.5, 0.7}, {0, -4, 6, 1.5, 1.2}});
  const Projector proj(map, 1.0);
  const FourierPixels px = SelectPixels(n, n);
  std::vector<AccuracyParticle> parts;
  Rng rng(1, 0);
  for (int i = 0; i < 20; ++i) {
    AccuracyParticle a;
    a.map = &proj;
    a.angles = {rng.Uniform(-180, 180), std::acos(1 - 2 * rng.Uniform()) * 180 / M_PI, rng.Uniform(-180, 180)};
    a.id = i;
    parts.push_back(a);
  }
  auto accuracy = [&](double sigma2) { return ExpectedAccuracy(parts, px, std::vector<double>(n / 2 + 1, sigma2), 7); };
  const Accuracy lo = accuracy(1e-4), hi = accuracy(1e-2);
  EXPECT_GT(hi.rot_deg, 2 * lo.rot_deg);
  EXPECT_GT(hi.trans_px, 2 * lo.trans_px);
  EXPECT_LE(hi.rot_deg, 30.5);
  EXPECT_LE(hi.trans_px, 10.5);
  // A shift of s px changes sum |F|^2 |1 - e^{-2 pi i k s / n}|^2 / (2 sigma2): at the accuracy
  // that exceeds 4.6 and one step less does not.
  EXPECT_GT(lo.trans_px, 0);
}

TEST(GoldStandard, HalfFscIsOneForEqualSumsAndTau2FollowsIt) {
  const int n = 24;
  const Volume map = testing::Blobs(n, {{3, 0, 0, 2, 1}, {-3, 4, 1, 2, 0.8}});
  const Projector proj(map, 1.0);
  BackProjector a(n, 2), b(n, 2), c(n, 2);
  Rng rng(2, 0);
  for (int i = 0; i < 60; ++i) {
    const Mat3 r =
        EulerToMatrix({rng.Uniform(-180, 180), std::acos(1 - 2 * rng.Uniform()) * 180 / M_PI, rng.Uniform(-180, 180)});
    FourierGrid f = proj.Slice(r, n, 1.0);
    a.Insert(f, nullptr, r);
    b.Insert(f, nullptr, r);
    // c: the same views with noise added.
    for (std::size_t q = 0; q < f.size(); ++q)
      f.data()[q] += Complex(static_cast<float>(rng.Normal(0, 0.05)), static_cast<float>(rng.Normal(0, 0.05)));
    c.Insert(f, nullptr, r);
  }
  const std::vector<double> same = BackProjector::HalfFsc(a, b);
  for (int s = 0; s <= n / 2; ++s) EXPECT_NEAR(same[s], 1.0, 1e-9) << s;
  const std::vector<double> noisy = BackProjector::HalfFsc(a, c);
  EXPECT_LT(noisy[n / 2 - 1], 0.9);
  // tau2 = T FSC / (1 - FSC) sigma2; for the joined map FSC' = sqrt(2 FSC / (1 + FSC)).
  std::vector<double> fsc(n / 2 + 1, 0.5);
  const BackProjector::SsnrArrays half = a.SsnrFromFsc(fsc, 1, false), whole = a.SsnrFromFsc(fsc, 1, true);
  const double fw = std::sqrt(2 * 0.5 / 1.5);
  for (int s = 1; s <= n / 2; ++s) {
    EXPECT_NEAR(half.data_vs_prior[s], 1.0, 1e-12);
    EXPECT_NEAR(half.tau2[s], half.sigma2[s], 1e-12 * (1 + half.sigma2[s]));
    EXPECT_NEAR(whole.data_vs_prior[s], fw / (1 - fw), 1e-12);
  }
  // Joining at low resolution: both get the mean within the radius, nothing beyond.
  BackProjector x = a, y = c;
  BackProjector::JoinLowResolution(&x, &y, 3);
  EXPECT_EQ(x.data(2, 1, 0), y.data(2, 1, 0));
  EXPECT_EQ(x.data(2, 1, 0), (a.data(2, 1, 0) + c.data(2, 1, 0)) / 2.0);
  EXPECT_EQ(x.data(10, 0, 0), a.data(10, 0, 0));
  EXPECT_EQ(y.data(10, 0, 0), c.data(10, 0, 0));
}

}  // namespace
}  // namespace emkit
