// Orientation sets: RELION's counts in C1, one asymmetric unit per point group (its size, every
// direction of the sphere covered by a symmetry mate of it, no two of its directions mates), and
// local searches around a prior.
#include "refine/orientations.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/random.h"

namespace emkit {
namespace {

std::array<double, 3> Dir(double rot, double tilt) {
  const double r = rot * M_PI / 180, t = tilt * M_PI / 180;
  return {std::cos(r) * std::sin(t), std::sin(r) * std::sin(t), std::cos(t)};
}

double AngleDeg(const std::array<double, 3>& a, const std::array<double, 3>& b) {
  const double d = a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
  return std::acos(std::max(-1.0, std::min(1.0, d))) * 180 / M_PI;
}

TEST(Orientations, RelionCountsInC1) {
  const SymmetryGroup c1("C1");
  const HealpixGrid g2 = MakeHealpixGrid(2, c1);
  EXPECT_EQ(g2.directions(), 192);
  EXPECT_EQ(g2.psi.size(), 24u);
  EXPECT_EQ(g2.orientations(), 4608);
  EXPECT_DOUBLE_EQ(g2.angular_step(), 15.0);
  const HealpixGrid g3 = MakeHealpixGrid(3, c1);
  EXPECT_EQ(g3.orientations(), 36864);
  EXPECT_DOUBLE_EQ(g3.psi[1], 7.5);
  const OrientationSet all = GlobalOrientations(g2);
  EXPECT_EQ(all.size(), 4608);
  // Direction-major, and the matrices are RELION's Euler matrices of the angles.
  EXPECT_DOUBLE_EQ(all.angles[25].psi, g2.psi[1]);
  EXPECT_DOUBLE_EQ(all.angles[25].rot, g2.rot[1]);
  EXPECT_LT(MaxAbsDifference(all.matrices[77], EulerToMatrix(all.angles[77])), 1e-12);
  // Every rot in [-180, 180], tilt in [0, 180].
  for (int d = 0; d < g2.directions(); ++d) {
    EXPECT_GE(g2.rot[d], -180);
    EXPECT_LE(g2.rot[d], 180);
    EXPECT_GE(g2.tilt[d], 0);
    EXPECT_LE(g2.tilt[d], 180);
  }
}

class AsymmetricUnit : public ::testing::TestWithParam<const char*> {};

TEST_P(AsymmetricUnit, CoversTheSphereOnceUpToSymmetry) {
  const SymmetryGroup sym(GetParam());
  const int order = 3;
  const HealpixGrid g = MakeHealpixGrid(order, sym);
  const double npix = 12.0 * std::pow(4.0, order);
  EXPECT_NEAR(g.directions(), npix / sym.order(), 0.15 * npix / sym.order() + 3) << GetParam();
  // Mates of a direction d are R^T d (the third row of A R).
  auto mates = [&](const std::array<double, 3>& d) {
    std::vector<std::array<double, 3>> out;
    for (const Mat3& m : sym.matrices()) out.push_back(m.Transposed() * d);
    return out;
  };
  // Every direction of the sphere has a mate within about one grid step of a grid direction (a
  // little more near the pole of Cn with n not a multiple of 4: HEALPix's polar rings are 4-fold).
  Rng rng(1, 0);
  for (int t = 0; t < 300; ++t) {
    const auto d = Dir(rng.Uniform(-180, 180), std::acos(1 - 2 * rng.Uniform()) * 180 / M_PI);
    double best = 180;
    for (const auto& m : mates(d))
      for (int i = 0; i < g.directions(); ++i) best = std::min(best, AngleDeg(m, Dir(g.rot[i], g.tilt[i])));
    ASSERT_LT(best, 1.4 * g.angular_step()) << GetParam();
  }
  // No two grid directions are (nearly) symmetry mates of each other.
  for (int i = 0; i < g.directions(); ++i)
    for (const auto& m : mates(Dir(g.rot[i], g.tilt[i]))) {
      if (AngleDeg(m, Dir(g.rot[i], g.tilt[i])) < 1e-3) continue;  // the identity
      for (int j = 0; j < g.directions(); ++j) {
        if (j == i) continue;
        ASSERT_GT(AngleDeg(m, Dir(g.rot[j], g.tilt[j])), 0.2 * g.angular_step())
            << GetParam() << " directions " << i << " and " << j;
      }
    }
}

INSTANTIATE_TEST_SUITE_P(PointGroups, AsymmetricUnit, ::testing::Values("C1", "C2", "C7", "D2", "D5", "T", "O", "I"));

TEST(Orientations, LocalSearchKeepsOrientationsNearThePriorWithGaussianPriors) {
  const SymmetryGroup c1("C1");
  const HealpixGrid g = MakeHealpixGrid(4, c1);  // 3.75 degrees
  const Euler prior{40, 70, -20};
  const double sigma = 2 * g.angular_step();
  const OrientationSet local = LocalOrientations(g, c1, prior, sigma, sigma);
  ASSERT_GT(local.size(), 50);
  EXPECT_LT(local.size(), 2000);
  const auto pd = Dir(prior.rot, prior.tilt);
  double best_lp = -1e9;
  int best = -1;
  for (int i = 0; i < local.size(); ++i) {
    const Euler& e = local.angles[i];
    const double dd = AngleDeg(Dir(e.rot, e.tilt), pd);
    EXPECT_LE(dd, 3 * sigma + 1e-9);
    double dpsi = std::fmod(e.psi - prior.psi + 540.0, 360.0) - 180;
    EXPECT_LE(std::fabs(dpsi), 3 * sigma + 1e-9);
    EXPECT_NEAR(local.log_prior[i], -(dd * dd + dpsi * dpsi) / (2 * sigma * sigma), 1e-6);
    if (local.log_prior[i] > best_lp) best_lp = local.log_prior[i], best = i;
  }
  // The most probable orientation a priori is within a grid step of the prior.
  EXPECT_LT(OrientationDistance(local.matrices[best], EulerToMatrix(prior), c1), 1.5 * g.angular_step());
  // Their indices in the global grid (what the oversampled children are made from).
  std::vector<int> indices;
  const OrientationSet again = LocalOrientations(g, c1, prior, sigma, sigma, &indices);
  const OrientationSet all = GlobalOrientations(g);
  ASSERT_EQ(indices.size(), static_cast<std::size_t>(local.size()));
  for (int i = 0; i < local.size(); ++i) {
    EXPECT_EQ(all.angles[indices[i]].rot, local.angles[i].rot);
    EXPECT_EQ(all.angles[indices[i]].tilt, local.angles[i].tilt);
    EXPECT_EQ(all.angles[indices[i]].psi, local.angles[i].psi);
    EXPECT_EQ(again.log_prior[i], local.log_prior[i]);
  }
  // With symmetry, a prior near a mate finds the same neighbourhood.
  const SymmetryGroup c4("C4");
  const HealpixGrid g4 = MakeHealpixGrid(4, c4);
  const OrientationSet l4 = LocalOrientations(g4, c4, {40 + 90, 70, -20}, sigma, sigma);
  EXPECT_GT(l4.size(), 20);
}

TEST(Orientations, LocalSearchNarrowerThanTheGridKeepsTheNearestOrientation) {
  const SymmetryGroup c1("C1");
  const HealpixGrid g = MakeHealpixGrid(2, c1);  // 15 degrees
  const Euler prior{40, 70, -20};
  const OrientationSet local = LocalOrientations(g, c1, prior, 1.0, 1.0);
  ASSERT_EQ(local.size(), 1);
  // The nearest direction of the grid, and the nearest psi.
  const OrientationSet all = GlobalOrientations(g);
  double best = 1e9;
  for (int i = 0; i < all.size(); ++i)
    best = std::min(best, OrientationDistance(all.matrices[i], EulerToMatrix(prior), c1));
  EXPECT_LT(OrientationDistance(local.matrices[0], EulerToMatrix(prior), c1), best + 7.5);
  EXPECT_NEAR(local.log_prior[0], 0, 1e-12);
  std::vector<int> index;
  LocalOrientations(g, c1, prior, 1.0, 1.0, &index);
  ASSERT_EQ(index.size(), 1u);
  EXPECT_EQ(all.angles[index[0]].psi, local.angles[0].psi);
  EXPECT_EQ(all.angles[index[0]].tilt, local.angles[0].tilt);
}

TEST(Orientations, DistanceIsTheRotationAngleUpToSymmetry) {
  const SymmetryGroup c1("C1"), c2("C2");
  const Mat3 a = EulerToMatrix({10, 20, 30});
  EXPECT_NEAR(OrientationDistance(a, a, c1), 0, 1e-6);
  EXPECT_NEAR(OrientationDistance(EulerToMatrix({0, 0, 0}), EulerToMatrix({0, 0, 25}), c1), 25, 1e-9);
  // A C2 mate (180 degrees about z) is at distance 0 with symmetry, 180 without.
  const Mat3 b = EulerToMatrix({10 + 180, 20, 30});
  EXPECT_NEAR(OrientationDistance(a, b, c2), 0, 1e-6);
  EXPECT_GT(OrientationDistance(a, b, c1), 90);
}

TEST(Orientations, SamplingPerturbationMovesEveryIterationWithinItsRange) {
  EXPECT_EQ(SamplingPerturbation(0, 1, "s", 5), 0);
  EXPECT_EQ(SamplingPerturbation(0.5, 1, "s", 0), 0);
  double previous = 0;
  for (int it = 1; it <= 40; ++it) {
    const double p = SamplingPerturbation(0.5, 1, "s", it);
    EXPECT_GE(p, -0.5);
    EXPECT_LT(p, 0.5);
    // Each iteration adds a draw from [f/2, f] modulo 2f: the grid moves by at least a quarter step.
    double step = p - previous;
    if (step < 0) step += 1;
    EXPECT_GE(step, 0.25 - 1e-12) << it;
    EXPECT_LE(step, 0.5 + 1e-12) << it;
    previous = p;
    // The same for the same seed and stream (a --continue run), another for another seed.
    EXPECT_EQ(p, SamplingPerturbation(0.5, 1, "s", it));
  }
  EXPECT_NE(SamplingPerturbation(0.5, 1, "s", 7), SamplingPerturbation(0.5, 2, "s", 7));
  EXPECT_NE(SamplingPerturbation(0.5, 1, "s", 7), SamplingPerturbation(0.5, 1, "t", 7));
}

TEST(Orientations, PerturbedGridIsTheGridTimesOneRotation) {
  const SymmetryGroup c1("C1");
  HealpixGrid g = MakeHealpixGrid(2, c1);
  const OrientationSet plain = GlobalOrientations(g);
  g.SetPerturbation(0.3);
  const Mat3 r = EulerToMatrix({4.5, 4.5, 4.5});  // 0.3 x 15 degrees, as RELION builds it
  const OrientationSet moved = GlobalOrientations(g);
  ASSERT_EQ(moved.size(), plain.size());
  const double turn = OrientationDistance(r, Mat3(), c1);
  EXPECT_GT(turn, 4);
  for (int i = 0; i < moved.size(); i += 7) {
    EXPECT_LT(MaxAbsDifference(moved.matrices[i], plain.matrices[i] * r), 1e-12) << i;
    EXPECT_LT(MaxAbsDifference(moved.matrices[i], EulerToMatrix(moved.angles[i])), 1e-9) << i;
    EXPECT_NEAR(OrientationDistance(moved.matrices[i], plain.matrices[i], c1), turn, 1e-6) << i;
  }
  // Children and local searches move with the grid.
  const OrientationSet children = ChildOrientations(g, {0, 100});
  g.SetPerturbation(0);
  const OrientationSet plain_children = ChildOrientations(g, {0, 100});
  ASSERT_EQ(children.size(), plain_children.size());
  for (int i = 0; i < children.size(); ++i)
    EXPECT_LT(MaxAbsDifference(children.matrices[i], plain_children.matrices[i] * r), 1e-12) << i;
  // Turned off, the grid is exactly what it was.
  const OrientationSet again = GlobalOrientations(g);
  for (int i = 0; i < again.size(); ++i) {
    EXPECT_EQ(again.angles[i].rot, plain.angles[i].rot);
    EXPECT_EQ(again.angles[i].tilt, plain.angles[i].tilt);
    EXPECT_EQ(again.angles[i].psi, plain.angles[i].psi);
  }
}

}  // namespace
}  // namespace emkit
