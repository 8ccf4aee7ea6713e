// The table of shared children's projections gives exactly the references that projecting each
// particle's children gives, whether a coarse orientation is tabulated or not.
#include "refine/child_projections.h"

#include <gtest/gtest.h>

#include "core/projector.h"
#include "refine/particle_prep.h"
#include "refine/test_maps.h"

namespace emkit {
namespace {

TEST(ChildProjectionTable, SameReferencesAsProjectingEachParticlesChildren) {
  const int n = 24;
  const Projector proj(testing::Blobs(n, testing::ChiralBlobs()), 1.0);
  const HealpixGrid grid = MakeHealpixGrid(1, SymmetryGroup("C1"));
  EStepSetup base;
  base.px = SelectPixels(n, 16);
  base.classes = 1;
  const std::vector<int> a = {3, 40, 41, 500}, b = {40, 41, 7}, c = {500, 41};
  for (std::size_t budget : {std::size_t{1} << 30, std::size_t{2} * 8 * 2 * base.px.size() * sizeof(float)}) {
    ChildProjectionTable table;
    table.Build(grid, {&proj}, base.px, {&a, &b, &c}, budget, 2);
    // Shared: 40 (2 particles), 41 (3), 500 (2); the small budget keeps the two most shared.
    EXPECT_EQ(table.tabulated(), budget > (std::size_t{1} << 20) ? 3 : 2);
    for (const auto* set : {&a, &b, &c}) {
      EStepSetup want = base, got = base;
      want.orient = ChildOrientations(grid, *set);
      SetProjectedReferences({&proj}, &want);
      table.Setup(grid, {&proj}, *set, nullptr, &got);
      ASSERT_EQ(got.num_orient(), 8 * static_cast<int>(set->size()));
      for (int m = 0; m < got.num_orient(); ++m) EXPECT_EQ(got.orient.angles[m].psi, want.orient.angles[m].psi);
      EXPECT_EQ(AllReferences(got), want.ref_ri);
      // Local searches: each child carries its parent's log-prior.
      std::vector<double> parents;
      for (std::size_t a = 0; a < set->size(); ++a) parents.push_back(-0.5 * static_cast<double>(a));
      table.Setup(grid, {&proj}, *set, &parents, &got);
      for (int m = 0; m < got.num_orient(); ++m) EXPECT_EQ(got.orient.log_prior[m], parents[m / 8]);
      EXPECT_EQ(AllReferences(got), want.ref_ri);
    }
  }
}

TEST(ChildProjectionTable, EveryClassMapInEveryChild) {
  const int n = 24;
  const Projector a(testing::Blobs(n, testing::ChiralBlobs()), 1.0);
  const Projector b(testing::Blobs(n, {{0, 0, 0, 2.0, 1}, {-5, 2, 3, 1.5, 0.8}}), 1.0);
  const HealpixGrid grid = MakeHealpixGrid(1, SymmetryGroup("C1"));
  EStepSetup base;
  base.px = SelectPixels(n, 16);
  base.classes = 2;
  const std::vector<int> x = {3, 40, 41}, y = {41, 7};
  ChildProjectionTable table;
  table.Build(grid, {&a, &b}, base.px, {&x, &y}, std::size_t{1} << 30, 2);
  EXPECT_EQ(table.tabulated(), 1);  // 41
  for (const auto* set : {&x, &y}) {
    EStepSetup want = base, got = base;
    want.orient = ChildOrientations(grid, *set);
    SetProjectedReferences({&a, &b}, &want);  // m = k * num_orient + j
    table.Setup(grid, {&a, &b}, *set, nullptr, &got);
    ASSERT_EQ(got.num_refs(), 2 * 8 * static_cast<int>(set->size()));
    EXPECT_EQ(AllReferences(got), want.ref_ri);
  }
}

}  // namespace
}  // namespace emkit
