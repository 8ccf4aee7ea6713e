// The micrograph's boundary must not look like a particle to any filter: a micrograph whose
// opposite edges differ (an ice gradient across it) wraps around into a step on a periodic FFT
// grid, and the LoG and the template correlation both answer such a step more strongly than a
// particle. Mirror padding removes the step; the pick border removes what is left at the edge.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/random.h"
#include "picker/evaluate.h"
#include "picker/local_stats.h"
#include "picker/log_picker.h"
#include "picker/pick.h"
#include "picker/template_matcher.h"

namespace emkit {
namespace {

constexpr int kSize = 256;
constexpr double kPixel = 10;      // Å
constexpr double kDiameter = 200;  // Å: 20 px

// Bright blob of about the particle's size (Gaussian, sigma 5 px), on a box of 32 px.
Image Blob() {
  Image p(32, 32);
  for (int y = 0; y < 32; ++y)
    for (int x = 0; x < 32; ++x)
      p(x, y) = static_cast<float>(std::exp(-((x - 16) * (x - 16) + (y - 16) * (y - 16)) / 50.0));
  return p;
}

// Noise, 16 blobs in the interior, and an intensity ramp across x (0 at the left edge, `ramp` at
// the right one), i.e. a step of `ramp` where a periodic grid wraps around.
Image Micrograph(double ramp, std::vector<Coordinate>* truth) {
  Image mic(kSize, kSize);
  Rng rng(21, 0);
  for (auto& v : mic) v = static_cast<float>(rng.Normal());
  const Image blob = Blob();
  for (int gy = 0; gy < 4; ++gy)
    for (int gx = 0; gx < 4; ++gx) {
      const int cx = 53 + 50 * gx, cy = 53 + 50 * gy;
      for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 32; ++x) mic(cx - 16 + x, cy - 16 + y) += 2.5f * blob(x, y);
      Coordinate c;
      c.x = cx;
      c.y = cy;
      truth->push_back(c);
    }
  for (int y = 0; y < kSize; ++y)
    for (int x = 0; x < kSize; ++x) mic(x, y) += static_cast<float>(ramp * x / (kSize - 1));
  return mic;
}

// Picks every local maximum (threshold -inf) at least `border` Å from the edge.
std::vector<Coordinate> PickAll(const Image& mic, ScoreMapper* mapper, double border) {
  MicrographInput in;
  in.name = in.path = "edge.mrc";
  in.pixel_size = kPixel;
  PickOptions opt;
  opt.diameter = kDiameter;
  opt.threshold = -1e30;
  opt.border = border;
  opt.preprocess.working_pixel_size = kPixel;  // no binning
  return PickMicrograph(mic, in, mapper, opt).picks;
}

bool NearEdge(const Coordinate& c, double distance) {
  return std::min({c.x, c.y, kSize - 1 - c.x, kSize - 1 - c.y}) < distance;
}

// The 16 best picks are the 16 blobs, none lies within `border` Å of the edge, and nothing
// within a diameter of the edge scores like a blob.
void ExpectNoEdgeResponse(const std::vector<Coordinate>& picks, const std::vector<Coordinate>& truth, double border) {
  ASSERT_GE(picks.size(), truth.size());
  const std::vector<Coordinate> top(picks.begin(), picks.begin() + truth.size());
  EXPECT_EQ(MatchPicks(top, truth, 5).size(), truth.size());
  double weakest_blob = 1e30;
  for (const auto& p : top) weakest_blob = std::min(weakest_blob, p.fom);
  for (const auto& p : picks) {
    EXPECT_GE(std::min({p.x, p.y, kSize - 1 - p.x, kSize - 1 - p.y}), border / kPixel) << p.x << "," << p.y;
    if (NearEdge(p, kDiameter / kPixel)) {
      EXPECT_LT(p.fom, 0.75 * weakest_blob) << "edge pick " << p.x << "," << p.y;
    }
  }
}

TEST(EdgeResponse, MirrorPadReflectsAboutTheEdges) {
  Image im(3, 2);
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 3; ++x) im(x, y) = static_cast<float>(10 * y + x);
  const Image p = MirrorPad(im, 2, 1, 8, 5);
  // Row -1 repeats row 0, column -1 column 0, column -2 column 1, column 3 column 2.
  const float row0[8] = {1, 0, 0, 1, 2, 2, 1, 0};
  for (int x = 0; x < 8; ++x) {
    EXPECT_EQ(p(x, 0), row0[x]) << x;
    EXPECT_EQ(p(x, 1), row0[x]) << x;
    EXPECT_EQ(p(x, 2), row0[x] + 10) << x;
    EXPECT_EQ(p(x, 3), row0[x] + 10) << x;
  }
  const Image c = Crop(p, 2, 1, 3, 2);
  for (std::size_t i = 0; i < im.size(); ++i) EXPECT_EQ(c[i], im[i]);
}

// With the default border of `emkit pick` (one radius): the LoG's response to a step reaches
// further into the micrograph than the border.
TEST(EdgeResponse, LogIgnoresAGradientAcrossTheMicrograph) {
  std::vector<Coordinate> truth;
  const Image mic = Micrograph(12, &truth);
  LogOptions opt;
  opt.diameter_min = 0.8 * kDiameter;
  opt.diameter_max = 1.2 * kDiameter;
  LogScoreMapper log(opt);
  ExpectNoEdgeResponse(PickAll(mic, &log, kDiameter / 2), truth, kDiameter / 2);
}

// Without a border: a template window lying across the edge must not see the opposite edge.
TEST(EdgeResponse, TemplateIgnoresAGradientAcrossTheMicrograph) {
  std::vector<Coordinate> truth;
  const Image mic = Micrograph(6, &truth);
  TemplateOptions opt;
  opt.diameter = kDiameter;
  opt.lowpass_angstrom = 2 * kPixel;
  opt.correlation_pixel = -1;
  opt.psi_step = 360;  // a round reference
  TemplateScoreMapper tm({Blob()}, kPixel, opt);
  ExpectNoEdgeResponse(PickAll(mic, &tm, 0), truth, 0);
}

}  // namespace
}  // namespace emkit
