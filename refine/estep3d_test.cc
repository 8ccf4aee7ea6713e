// One engine for 2D and 3D: the E-step kernel that 2D classification uses, given central sections of
// a 3D map as its references (HEALPix orientations), finds the orientations of noisy projections;
// its per-orientation weighted sums, back-projected, give the map of the images at their true orientations.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "core/fft.h"
#include "core/projector.h"
#include "core/random.h"
#include "refine/backprojector.h"
#include "refine/estep2d.h"
#include "refine/orientations.h"
#include "refine/particle_prep.h"
#include "refine/test_maps.h"

namespace emkit {
namespace {

TEST(EStep3d, FindsOrientationsAndItsSumsRebuildTheMap) {
  const int n = 32, count = 60;
  const Volume map = testing::Blobs(n, testing::ChiralBlobs());
  const Projector proj(map, 1.0);
  const SymmetryGroup c1("C1");
  const HealpixGrid grid = MakeHealpixGrid(2, c1);  // 15 degrees, 4608 orientations
  EStepSetup s;
  s.px = SelectPixels(n, 20);
  s.classes = 1;
  s.orient = GlobalOrientations(grid);
  s.trans = {Translation{}};
  s.phase.assign(s.px.size(), Complex(1, 0));  // exp(-2 pi i k.t / n) for t = 0
  s.log_pk = {0.0};
  const double noise_sd = 0.5;  // per real-space pixel
  // sigma2 of a Fourier pixel (forward transform scaled by 1/N): N sd^2 / N^2 per complex value / 2 per part.
  const double sigma2 = noise_sd * noise_sd / (double(n) * n) / 2;
  s.inv_sigma2.assign(s.px.size(), static_cast<float>(1 / sigma2));
  s.sigma_offset_px = 3;
  SetProjectedReferences({&proj}, &s);
  ASSERT_EQ(s.num_refs(), 4608);

  Rng rng(5, 0);
  std::vector<int> truth(count);
  std::vector<PreparedParticle> parts(count);
  std::vector<Translation> offsets(count);
  std::vector<Image> images(count);
  PrepOptions prep;
  prep.ctf = false;
  for (int i = 0; i < count; ++i) {
    truth[i] = rng.UniformInt(0, s.num_orient() - 1);
    Image img = InverseCentredFft(proj.Slice(s.orient.matrices[truth[i]], n, 1.0));
    for (float& v : img) v += static_cast<float>(rng.Normal(0, noise_sd));
    Rng mask_rng(1, i);
    PrepareParticle(img, 0, 0, CtfParams{}, 1.0, prep, s.px, {}, &mask_rng, &parts[i]);
    images[i] = img;
  }
  std::vector<ParticleResult> results;
  ChunkSums sums;
  EStepWorkspace ws;
  EStepChunk(s, parts, offsets, nullptr, &results, &sums, &ws);
  int exact = 0;
  for (int i = 0; i < count; ++i) {
    exact += results[i].orientation == truth[i];
    EXPECT_LT(OrientationDistance(s.orient.matrices[results[i].orientation], s.orient.matrices[truth[i]], c1), 16)
        << "particle " << i;
  }
  EXPECT_GE(exact, count * 9 / 10);

  // M-step: the weighted sums per orientation, back-projected, give the map that the same images
  // inserted at their true orientations give (both within |k| <= 9 of the E-step's pixels).
  std::vector<float> d, w, dc, wc;
  std::vector<int> rows, compact_rows;
  ChunkSums sums_compact = sums;
  ASSERT_TRUE(ClassChunkSums(s, 0, ws, &sums, &d, &w, &rows));
  ASSERT_EQ(static_cast<int>(rows.size()), s.num_orient());
  // The compact sums (3D's): only the orientations with weight, the same values.
  s.compact_sums = true;
  ASSERT_TRUE(ClassChunkSums(s, 0, ws, &sums_compact, &dc, &wc, &compact_rows));
  EXPECT_LT(compact_rows.size(), rows.size() / 10);
  BackProjector bp(n, 2, 9), truth_bp(n, 2, 9);
  const int P = s.px.size();
  for (std::size_t a = 0; a < compact_rows.size(); ++a) {
    const int j = compact_rows[a];
    for (int p = 0; p < P; ++p) {
      EXPECT_NEAR(wc[a * P + p], w[static_cast<std::size_t>(j) * P + p], 1e-5 * (1 + std::fabs(w[j * P + p])));
      EXPECT_NEAR(dc[a * 2 * P + p], d[static_cast<std::size_t>(j) * 2 * P + p],
                  1e-4 * (1 + std::fabs(d[j * 2 * P + p])));
    }
  }
  for (std::size_t s2 = 0; s2 < sums.sigma2_num.size(); ++s2)
    EXPECT_NEAR(sums_compact.sigma2_num[s2], sums.sigma2_num[s2], 1e-6 * (1 + std::fabs(sums.sigma2_num[s2])));
  for (int j = 0; j < s.num_orient(); ++j) {
    const float* wj = &w[static_cast<std::size_t>(j) * P];
    if (std::all_of(wj, wj + P, [](float v) { return v == 0; })) {
      EXPECT_FALSE(std::binary_search(compact_rows.begin(), compact_rows.end(), j)) << j;
      continue;
    }
    const float* dj = &d[static_cast<std::size_t>(j) * 2 * P];
    bp.InsertPixels(s.px.kx.data(), s.px.ky.data(), P, dj, dj + P, wj, s.orient.matrices[j]);
  }
  for (int i = 0; i < count; ++i) truth_bp.Insert(CentredFft(images[i]), nullptr, s.orient.matrices[truth[i]]);
  bp.Symmetrise(c1);
  truth_bp.Symmetrise(c1);
  BackProjector::ReconstructOptions ro;
  const Volume rec = bp.Reconstruct(ro), lp = truth_bp.Reconstruct(ro);
  double sab = 0, saa = 0, sbb = 0, sa = 0, sb = 0;
  const double cnt = static_cast<double>(rec.size());
  for (std::size_t i = 0; i < rec.size(); ++i) {
    sa += rec[i], sb += lp[i], sab += double(rec[i]) * lp[i], saa += double(rec[i]) * rec[i],
        sbb += double(lp[i]) * lp[i];
  }
  const double corr = (sab / cnt - sa / cnt * sb / cnt) /
                      std::sqrt((saa / cnt - sa * sa / cnt / cnt) * (sbb / cnt - sb * sb / cnt / cnt));
  EXPECT_GT(corr, 0.98);
  // And the same scale (a wrong factor between the sums d and w would not change the correlation).
  const double slope = (sab / cnt - sa / cnt * sb / cnt) / (sbb / cnt - sb * sb / cnt / cnt);
  EXPECT_NEAR(slope, 1.0, 0.05);
}

}  // namespace
}  // namespace emkit
