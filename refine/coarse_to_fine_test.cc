// RELION's adaptive oversampling of translations in the coarse-to-fine pass: the coarse pass scores
// a 1 px grid, the fine pass the 4 sub-translations (+-1/4 px) of each significant coarse
// translation, so that offsets between the coarse grid points are found to a quarter pixel, as
// they are not when both passes score the coarse grid.
#include "refine/coarse_to_fine.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "core/fft.h"
#include "core/geometry.h"
#include "core/projector.h"
#include "core/random.h"
#include "io/mrc.h"
#include "io/particles.h"
#include "refine/test_maps.h"

namespace emkit {
namespace {

constexpr double kNoise = 1;  // per pixel, about the projections' own standard deviation

struct Scored {
  std::vector<ParticleResult> results;
  std::vector<Translation> truth;  // the offsets that re-centre each particle (px)
  std::vector<Mat3> rotation;
};

// `count` projections of a blob map at child orientations of the order-1 grid, shifted so that
// their re-centring offsets lie on the quarter-pixel lattice between the 1 px grid points, scored
// by one CoarseToFinePass with (step 1 px) or without oversampled translations.
Scored Score(bool oversample) {
  const int n = 32, count = 12;
  const std::string dir = ::testing::TempDir() + "/emkit_coarse_to_fine";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const Volume map = testing::Blobs(n, testing::ChiralBlobs());
  const Projector proj(map, 1.0);
  const SymmetryGroup c1("C1");
  const HealpixGrid grid = MakeHealpixGrid(2, c1);
  const int coarse_count = GlobalOrientations(grid).size();
  Rng rng(7, 0);
  Scored run;
  ImageStack stack;
  ParticleSet set;
  set.has_ctf = false;
  set.optics.push_back(OpticsGroup{});
  set.optics[0].image_size = n;
  for (int i = 0; i < count; ++i) {
    const OrientationSet children = ChildOrientations(grid, {rng.UniformInt(0, coarse_count - 1)});
    const Mat3 r = children.matrices[rng.UniformInt(0, children.size() - 1)];
    const Translation t{rng.UniformInt(-1, 0) + (rng.UniformInt(0, 1) ? 0.25 : 0.75),
                        rng.UniformInt(-1, 0) + (rng.UniformInt(0, 1) ? 0.25 : 0.75)};
    FourierGrid f = Fft(InverseCentredFft(proj.Slice(r, n, 1.0)));
    ShiftFourier(&f, -t.x, -t.y);  // PrepareParticle shifts by the offset: t re-centres it
    Image img = InverseFft(f);
    for (float& v : img) v += static_cast<float>(rng.Normal(0, kNoise));
    stack.push_back(img);
    run.truth.push_back(t);
    run.rotation.push_back(r);
    Particle p;
    p.image_name = MakeImageName(i, dir + "/particles.mrcs");
    set.particles.push_back(p);
  }
  WriteMrcStack(dir + "/particles.mrcs", stack);
  const ParticleReader reader(set, dir + "/particles.star");
  std::vector<ParticleState> state(count);
  Class2dModel model;
  PrepOptions prep;
  prep.ctf = false;
  // Setups at 16 px (coarse) and 32 px (fine), translations within 1.5 px at 1 px.
  auto setup = [&](int size) {
    EStepSetup s;
    s.px = SelectPixels(n, size);
    s.classes = 1;
    s.trans = TranslationGrid(1.5, 1.0);
    SetNoise(std::vector<double>(n / 2 + 1, kNoise * kNoise / (double(n) * n) / 2), &s);
    s.log_pk = {0.0};
    s.sigma_offset_px = 3;
    s.compact_sums = true;
    SetTranslationPhases(&s);
    return s;
  };
  const EStepSetup coarse = setup(16), fine = setup(32);
  CoarseToFine c;
  c.grid = &grid;
  c.maps = {&proj};
  c.box = n;
  c.oversampled_translation_step = oversample ? 1.0 : 0.0;
  PassContext ctx;
  ctx.reader = &reader;
  ctx.state = &state;
  ctx.model = &model;
  ctx.seed = 1;
  ctx.noise_stream = "coarse-to-fine-test";
  SingleRankCommunicator comm;
  DiscardSums sums;
  run.results.resize(count);
  CoarseToFinePass(ctx, coarse, fine, c, prep, comm, nullptr, &sums, &run.results);
  return run;
}

TEST(CoarseToFine, OversampledTranslationsFindOffsetsBetweenTheCoarseGridPoints) {
  const SymmetryGroup c1("C1");
  for (const bool oversample : {true, false}) {
    const Scored run = Score(oversample);
    const int count = static_cast<int>(run.truth.size());
    int exact = 0, near = 0;
    double error = 0;
    for (int i = 0; i < count; ++i) {
      const ParticleResult& r = run.results[i];
      const double e = std::hypot(r.offset_x - run.truth[i].x, r.offset_y - run.truth[i].y);
      error += e / count;
      exact += e < 1e-9;
      near += OrientationDistance(EulerToMatrix({r.rot, r.tilt, r.psi}), run.rotation[i], c1) < 12;
    }
    // Orientations within about one step of the fine grid (7.5 degrees).
    EXPECT_GE(near, count * 3 / 4) << "oversampled: " << oversample;
    if (oversample) {
      EXPECT_GE(exact, count * 3 / 4);
      EXPECT_LT(error, 0.15);
    } else {  // the 1 px grid points are at least a quarter pixel away in x and in y
      EXPECT_EQ(exact, 0);
      EXPECT_GT(error, 0.35);
    }
  }
}

}  // namespace
}  // namespace emkit
