// Picking real micrographs (EMPIAR-10028, 1024² PNG, ~5.4 Å/px, ribosome ~57 px) with the
// defaults of `emkit pick`: no pick of LoG or template matching lies within the default border
// (one particle radius) and the best-scored picks are not drawn to the edge. Before the filters
// were made non-periodic, the micrograph's boundary gave the strongest LoG responses.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "picker/pick.h"
#include "tests/testing.h"

namespace emkit {
namespace {
using testing::RunEmkitBinary;

constexpr double kSize = 1024, kDiameterPx = 57;

double EdgeDistance(const Coordinate& c) { return std::min({c.x, c.y, kSize - 1 - c.x, kSize - 1 - c.y}); }

// For every micrograph: no pick within a radius of the edge, and of the 50 best picks at most 12
// within a diameter of it (that band is 11% of the area where picks may lie: ~6 by chance).
void ExpectNoEdgePicks(const std::string& dir, int micrographs) {
  const CoordinateCollection picks = ReadCoordinateCollection(dir);
  ASSERT_EQ(static_cast<int>(picks.keys.size()), micrographs);
  for (std::size_t m = 0; m < picks.keys.size(); ++m) {
    std::vector<Coordinate> p = picks.coords[m];
    ASSERT_GE(p.size(), 50u) << picks.keys[m];
    int inside_radius = 0;
    for (const auto& c : p) inside_radius += EdgeDistance(c) < kDiameterPx / 2;
    EXPECT_EQ(inside_radius, 0) << picks.keys[m];
    std::stable_sort(p.begin(), p.end(), [](const Coordinate& a, const Coordinate& b) { return a.fom > b.fom; });
    int top_near_edge = 0;
    for (int i = 0; i < 50; ++i) top_near_edge += EdgeDistance(p[i]) < kDiameterPx;
    EXPECT_LE(top_near_edge, 12) << picks.keys[m] << ": best 50 picks within a diameter of the edge";
  }
}

TEST(PickEdgeReal, LogAndTemplateKeepAwayFromTheEdge) {
  EMKIT_REQUIRE_SHARED_DATA(data);
  const std::string dir = testing::FreshDir("pick_edge");
  const std::string images = data + "/micrographs/empiar10028/test/images";
  auto r = RunEmkitBinary("pick --method log -i '" + images +
                          "/*.png' --pixel-size 5.4 --diameter 308 --threshold -100 --threads 2 -q -o " + dir + "/log");
  ASSERT_EQ(r.status, 0) << r.err;
  ExpectNoEdgePicks(dir + "/log", 5);
  r = RunEmkitBinary("pick --method template -i " + images + "/311_10028.png " + images +
                     "/312_10028.png --pixel-size 5.4 --diameter 308 --reference-map " + data +
                     "/maps/ribosome70s_65.mrc --reference-pixel-size 6 --views 10 --threshold 0 --threads 2 -q -o " +
                     dir + "/template");
  ASSERT_EQ(r.status, 0) << r.err;
  ExpectNoEdgePicks(dir + "/template", 2);
}

}  // namespace
}  // namespace emkit
