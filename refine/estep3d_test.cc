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
  ASSERT_TRUE(ClassChunkSums(s, 0, ws, &sums, &d, &w, &rows));
  ASSERT_EQ(static_cast<int>(rows.size()), s.num_orient());
  EXPECT_FALSE(ws.sparse);
  // The compact sums (3D's, from the sparse weights): only the orientations with weight, the same values.
  s.compact_sums = true;
  std::vector<ParticleResult> results_compact;
  ChunkSums sums_compact;
  EStepWorkspace ws_compact;
  EStepChunk(s, parts, offsets, nullptr, &results_compact, &sums_compact, &ws_compact);
  EXPECT_TRUE(ws_compact.sparse);
  EXPECT_EQ(ws_compact.cross.size(), s.trans.size() * s.num_refs());  // one particle's cross terms
  for (int i = 0; i < count; ++i) {
    EXPECT_EQ(results_compact[i].orientation, results[i].orientation) << i;
    EXPECT_EQ(results_compact[i].nsig, results[i].nsig) << i;
  }
  ASSERT_TRUE(ClassChunkSums(s, 0, ws_compact, &sums_compact, &dc, &wc, &compact_rows));
  EXPECT_LT(compact_rows.size(), rows.size() / 10);
  // One particle at a time (local searches and fine passes), the particles' sums add up to the
  // chunk's.
  {
    const int Pn = s.px.size();
    std::vector<float> d_sum(dc.size(), 0.f), w_sum(wc.size(), 0.f);
    for (int i = 0; i < count; ++i) {
      std::vector<ParticleResult> r1;
      ChunkSums s1;
      EStepWorkspace w1;
      EStepChunk(s, {parts[i]}, {offsets[i]}, nullptr, &r1, &s1, &w1);
      EXPECT_TRUE(w1.sparse);
      EXPECT_EQ(r1[0].orientation, results_compact[i].orientation) << i;
      std::vector<float> d1, w1s;
      std::vector<int> rows1;
      ASSERT_TRUE(ClassChunkSums(s, 0, w1, &s1, &d1, &w1s, &rows1));
      for (std::size_t a = 0; a < rows1.size(); ++a) {
        const auto at = std::lower_bound(compact_rows.begin(), compact_rows.end(), rows1[a]);
        ASSERT_TRUE(at != compact_rows.end() && *at == rows1[a]) << i << " " << rows1[a];
        const std::size_t b = static_cast<std::size_t>(at - compact_rows.begin());
        for (int p = 0; p < 2 * Pn; ++p) d_sum[b * 2 * Pn + p] += d1[a * 2 * Pn + p];
        for (int p = 0; p < Pn; ++p) w_sum[b * Pn + p] += w1s[a * Pn + p];
      }
    }
    for (std::size_t q = 0; q < dc.size(); ++q) ASSERT_NEAR(d_sum[q], dc[q], 1e-4 * (1 + std::fabs(dc[q]))) << q;
    for (std::size_t q = 0; q < wc.size(); ++q) ASSERT_NEAR(w_sum[q], wc[q], 1e-5 * (1 + std::fabs(wc[q]))) << q;
  }
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

// RELION's --strict_highres_exp: the probabilities come from the pixels below the limit only (the
// same as an E-step at that size), the sums for the M-step from every pixel.
TEST(EStep3d, StrictHighresScoresTheLowFrequenciesAndSumsThemAll) {
  const int n = 32, count = 12, radius = 6;
  const Volume map = testing::Blobs(n, testing::ChiralBlobs());
  const Projector proj(map, 1.0);
  const HealpixGrid grid = MakeHealpixGrid(1, SymmetryGroup("C1"));
  auto setup = [&](int size, double limit) {
    EStepSetup s;
    s.px = SelectPixels(n, size);
    s.score_pixels = LimitScoring(limit, 1.0, &s.px);
    s.classes = 1;
    s.orient = GlobalOrientations(grid);
    s.trans = {Translation{}, Translation{1, 0}};
    s.log_pk = {0.0};
    std::vector<double> sigma2(n / 2 + 1);
    for (std::size_t sh = 0; sh < sigma2.size(); ++sh) sigma2[sh] = 1e-4 * (1 + 0.1 * sh);
    SetNoise(sigma2, &s);
    SetTranslationPhases(&s);
    s.compact_sums = true;
    SetProjectedReferences({&proj}, &s);
    return s;
  };
  EStepSetup limited = setup(20, n / double(radius)), small = setup(2 * radius, 0), full = setup(20, 0);
  {
    FourierPixels px = SelectPixels(n, 20);
    EXPECT_EQ(LimitScoring(n / 10.0, 1.0, &px), 0);  // radius 10: the whole current size
  }
  ASSERT_EQ(limited.score_pixels, small.px.size());
  for (int p = 0; p < full.px.size(); ++p) {
    const int r2 = limited.px.kx[p] * limited.px.kx[p] + limited.px.ky[p] * limited.px.ky[p];
    EXPECT_EQ(r2 < radius * radius, Scored(limited, p)) << p;
  }
  EXPECT_NEAR(limited.log_norm_const, small.log_norm_const, 1e-6 * std::fabs(small.log_norm_const));

  Rng rng(7, 0);
  std::vector<PreparedParticle> parts_full(count), parts_small(count), parts_limited(count);
  std::vector<Translation> offsets(count);
  PrepOptions prep;
  prep.ctf = false;
  for (int i = 0; i < count; ++i) {
    const int j = rng.UniformInt(0, full.num_orient() - 1);
    Image img = InverseCentredFft(proj.Slice(full.orient.matrices[j], n, 1.0));
    for (float& v : img) v += static_cast<float>(rng.Normal(0, 0.3));
    Rng m1(1, i), m2(1, i), m3(1, i);
    PrepareParticle(img, 0, 0, CtfParams{}, 1.0, prep, full.px, {}, &m1, &parts_full[i]);
    PrepareParticle(img, 0, 0, CtfParams{}, 1.0, prep, small.px, {}, &m2, &parts_small[i]);
    PrepareParticle(img, 0, 0, CtfParams{}, 1.0, prep, limited.px, {}, &m3, &parts_limited[i]);
  }
  std::vector<ParticleResult> rl, rs, rf;
  ChunkSums sl, ss, sf;
  EStepWorkspace wl, ws, wf;
  EStepChunk(limited, parts_limited, offsets, nullptr, &rl, &sl, &wl);
  EStepChunk(small, parts_small, offsets, nullptr, &rs, &ss, &ws);
  EStepChunk(full, parts_full, offsets, nullptr, &rf, &sf, &wf);
  bool all_certain = true;
  for (int i = 0; i < count; ++i) {
    EXPECT_EQ(rl[i].orientation, rs[i].orientation) << i;
    EXPECT_NEAR(rl[i].pmax, rs[i].pmax, 1e-4) << i;
    EXPECT_NEAR(rl[i].loglik, rs[i].loglik, 1e-3 * (1 + std::fabs(rs[i].loglik))) << i;
    all_certain = all_certain && rl[i].pmax > 0.9999 && rf[i].pmax > 0.9999 && rl[i].orientation == rf[i].orientation;
  }
  // (and not the likelihood of all pixels)
  for (int i = 0; i < count; ++i) EXPECT_GT(std::fabs(rl[i].loglik - rf[i].loglik), 1.0) << i;
  // The sums take every pixel: with the same (certain) weights they are those of the unlimited pass.
  ASSERT_TRUE(all_certain);
  std::vector<float> dl, wl_sums, df, wf_sums;
  std::vector<int> rows_l, rows_f;
  ASSERT_TRUE(ClassChunkSums(limited, 0, wl, &sl, &dl, &wl_sums, &rows_l));
  ASSERT_TRUE(ClassChunkSums(full, 0, wf, &sf, &df, &wf_sums, &rows_f));
  ASSERT_EQ(rows_l, rows_f);
  ASSERT_EQ(dl.size(), df.size());
  int beyond = 0;
  const int P = full.px.size();
  std::vector<int> where(P);  // full's pixel of limited's pixel p
  for (int p = 0; p < P; ++p)
    for (int q = 0; q < P; ++q)
      if (full.px.kx[q] == limited.px.kx[p] && full.px.ky[q] == limited.px.ky[p]) where[p] = q;
  for (std::size_t a = 0; a < rows_l.size(); ++a)
    for (int p = 0; p < P; ++p) {
      const int q = where[p];
      for (int part = 0; part < 2; ++part) {
        const float want = df[a * 2 * P + part * P + q];
        EXPECT_NEAR(dl[a * 2 * P + part * P + p], want, 1e-3 * (1 + std::fabs(want)));
      }
      EXPECT_NEAR(wl_sums[a * P + p], wf_sums[a * P + q], 1e-3 * (1 + std::fabs(wf_sums[a * P + q])));
      beyond += !Scored(limited, p) && dl[a * 2 * P + p] != 0;
    }
  EXPECT_GT(beyond, 0);
  for (std::size_t sh = 0; sh < sf.sigma2_num.size(); ++sh)
    EXPECT_NEAR(sl.sigma2_num[sh], sf.sigma2_num[sh], 1e-3 * (1 + std::fabs(sf.sigma2_num[sh]))) << sh;

  // Within a budget that holds only the scored pixels of every reference: a quarter of the table,
  // the other pixels projected for the orientations with weight; the same results bit for bit.
  EStepSetup part = limited;
  const std::size_t scored_bytes = std::size_t{2} * limited.score_pixels * sizeof(float) * limited.num_refs();
  SetProjectedReferences({&proj}, &part, scored_bytes);
  ASSERT_EQ(part.table_pixels(), limited.score_pixels);
  EXPECT_EQ(part.ref_ri.size() * P, limited.ref_ri.size() * limited.score_pixels);
  EXPECT_TRUE(ReferencesNeedMaps(part));
  EXPECT_FALSE(ReferencesNeedMaps(limited));
  EXPECT_EQ(AllReferences(part), limited.ref_ri);
  std::vector<ParticleResult> rp;
  ChunkSums sp;
  EStepWorkspace wp;
  EStepChunk(part, parts_limited, offsets, nullptr, &rp, &sp, &wp);
  for (int i = 0; i < count; ++i) {
    EXPECT_EQ(rp[i].orientation, rl[i].orientation) << i;
    EXPECT_EQ(rp[i].loglik, rl[i].loglik) << i;
  }
  EXPECT_TRUE(wp.sparse && wl.sparse);
  EXPECT_EQ(wp.weight_start, wl.weight_start);
  EXPECT_EQ(wp.weight_row, wl.weight_row);
  EXPECT_EQ(wp.weight, wl.weight);
  std::vector<float> dp, wp_sums;
  std::vector<int> rows_p;
  ASSERT_TRUE(ClassChunkSums(part, 0, wp, &sp, &dp, &wp_sums, &rows_p));
  EXPECT_EQ(rows_p, rows_l);
  EXPECT_EQ(dp, dl);
  EXPECT_EQ(wp_sums, wl_sums);
  EXPECT_EQ(sp.sigma2_num, sl.sigma2_num);
  // One byte less: every pixel projected on demand (ref_block), the same again.
  EStepSetup made = limited;
  SetProjectedReferences({&proj}, &made, scored_bytes - 1);
  EXPECT_EQ(made.table_pixels(), P);
  EXPECT_TRUE(ReferencesMadeOnDemand(made));
  EXPECT_EQ(AllReferences(made), limited.ref_ri);
}

}  // namespace
}  // namespace emkit
