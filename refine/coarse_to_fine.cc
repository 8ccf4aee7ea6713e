#include "refine/coarse_to_fine.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>

#include "core/error.h"
#include "refine/child_projections.h"
#include "refine/particle_job.h"
#include "refine/pass_progress.h"
#include "refine/volume_job.h"

namespace emkit {

int CoarseSize(int healpix_order, double particle_diameter, int box, double pixel_size, int current_size) {
  const double rotated = HealpixStep(healpix_order) / 360.0 * M_PI * particle_diameter;
  const double coarse_resolution = rotated / 1.2;
  const int size = 2 * static_cast<int>(std::ceil(box * pixel_size / coarse_resolution));
  return std::min(current_size, size);
}

void CoarseToFinePass(PassContext ctx, const EStepSetup& coarse_base, const EStepSetup& fine_base,
                      const CoarseToFine& c, const PrepOptions& prep, Communicator& comm, Progress* progress,
                      PassSums* sums, std::vector<ParticleResult>* results) {
  const int K = static_cast<int>(c.maps.size());
  EMKIT_CHECK(c.grid && K > 0 && coarse_base.classes == K && fine_base.classes == K, "one map per class");
  const bool local = static_cast<bool>(c.local_orientations);
  const int n_all = ctx.reader->count();
  const int count = ctx.particles ? static_cast<int>(ctx.particles->size()) : n_all;
  // Per particle of this rank: its significant coarse orientations (GlobalOrientations indices of
  // the grid) and, for local searches, their log-priors and the candidates of the coarse pass.
  std::vector<std::vector<int>> significant(n_all), candidates(local ? n_all : 0);
  // With oversampled translations: per particle, its significant coarse translations (indices
  // into coarse.trans).
  const bool split = c.oversampled_translation_step > 0;
  std::vector<std::vector<int>> significant_trans(split ? n_all : 0);
  // And which (orientation, translation) pairs of those were significant: per kept orientation a
  // (in the order of significant[i]), a bit per significant translation b, in words of 64.
  std::vector<std::vector<uint64_t>> significant_pairs(split ? n_all : 0);
  std::vector<std::vector<double>> prior(local ? n_all : 0);

  EStepSetup coarse = coarse_base;
  if (local) {
    ctx.chunk = c.chunk_option > 0 ? c.chunk_option : 16;
    coarse.orient = OrientationSet();
    coarse.orient.Add({0, 0, 0});  // each particle gets its own orientations (local_setup)
    const CoarseToFine* cp = &c;
    ctx.local_setup = [cp, &candidates](int i, EStepSetup* s) {
      s->orient = cp->local_orientations(i, &candidates[i]);
      SetProjectedReferences(cp->maps, s);
    };
  } else {
    coarse.orient = GlobalOrientations(*c.grid);
    SetProjectedReferences(c.maps, &coarse, c.projection_bytes);
    ctx.chunk = ChunkSize(c.chunk_option, c.box, static_cast<double>(coarse.trans.size()),
                          static_cast<double>(coarse.num_refs()));
  }
  const int chunks = (count + ctx.chunk - 1) / ctx.chunk;
  ctx.first_chunk = static_cast<int>(static_cast<long>(chunks) * comm.rank() / comm.size());
  ctx.last_chunk = static_cast<int>(static_cast<long>(chunks) * (comm.rank() + 1) / comm.size());
  // Coarse orientation j of the pass is the grid's j (global) or the particle's candidate j
  // (local); it is significant when any class has weight on it. With a cap, each class keeps its
  // heaviest ones (ties: the lower j), so that a class with little weight still has its own
  // orientations in the fine pass; the union is kept in the order of j.
  const int cap = c.max_significant;
  ctx.on_weights = [local, K, cap, split, &significant, &significant_trans, &significant_pairs, &candidates, &prior](
                       int i, const EStepSetup& s, const EStepWorkspace& ws, int row) {
    const int M = s.num_refs(), nor = s.num_orient();
    const float* w = &ws.wsum[static_cast<std::size_t>(row) * M];
    std::vector<char> keep(nor, 0);
    std::vector<std::pair<float, int>> order;  // (-weight, j)
    for (int k = 0; k < K; ++k) {
      order.clear();
      for (int j = 0; j < nor; ++j)
        if (w[k * nor + j] > 0) order.emplace_back(-w[k * nor + j], j);
      if (cap > 0 && static_cast<int>(order.size()) > cap) {
        std::nth_element(order.begin(), order.begin() + cap, order.end());
        order.resize(cap);
      }
      for (const auto& e : order) keep[e.second] = 1;
    }
    for (int j = 0; j < nor; ++j) {
      if (!keep[j]) continue;
      significant[i].push_back(local ? candidates[i][j] : j);
      if (local) prior[i].push_back(s.orient.log_prior[j]);
    }
    if (split) {
      // The pairs of a kept orientation and a translation with weight in any class.
      const int T = static_cast<int>(s.trans.size());
      std::vector<int> kept;
      for (int j = 0; j < nor; ++j)
        if (keep[j]) kept.push_back(j);
      const std::size_t na = kept.size();
      std::vector<char> pair(na * T, 0);
      for (std::size_t a = 0; a < na; ++a)
        for (int k = 0; k < K; ++k)
          ForEachWeight(s, ws, k * nor + kept[a], row * T, (row + 1) * T,
                        [&](int r, float) { pair[a * T + (r - row * T)] = 1; });
      std::vector<int>& trans = significant_trans[i];
      for (int t = 0; t < T; ++t)
        for (std::size_t a = 0; a < na; ++a)
          if (pair[a * T + t]) {
            trans.push_back(t);
            break;
          }
      const std::size_t words = (trans.size() + 63) / 64;
      std::vector<uint64_t>& bits = significant_pairs[i];
      bits.assign(na * words, 0);
      for (std::size_t a = 0; a < na; ++a)
        for (std::size_t b = 0; b < trans.size(); ++b)
          if (pair[a * T + trans[b]]) bits[a * words + b / 64] |= uint64_t{1} << (b % 64);
    }
    if (local) std::vector<int>().swap(candidates[i]);
  };
  std::vector<ParticleResult> coarse_results;
  DiscardSums discard;
  ProgressPassSums counted_coarse(&discard, progress);
  ExpectationPass(ctx, coarse, nullptr, prep, comm, &counted_coarse, &coarse_results);
  ctx.on_weights = nullptr;
  std::vector<float>().swap(coarse.ref_ri);  // the fine pass's projections take their place
  coarse.ref_block = nullptr;
  coarse.ref_rest = nullptr;

  // Fine pass: the children of coarse orientations shared by this rank's particles are projected
  // once.
  std::vector<const std::vector<int>*> sets;
  for (int a = 0; a < count; ++a) {
    const int i = ctx.particles ? (*ctx.particles)[a] : a;
    if (!significant[i].empty()) sets.push_back(&significant[i]);
  }
  ChildProjectionTable table;
  table.Build(*c.grid, c.maps, fine_base.px, sets, c.projection_bytes, c.threads);
  EStepSetup fine = fine_base;
  fine.orient = OrientationSet();
  fine.orient.Add({0, 0, 0});  // each particle gets its own orientations (local_setup)
  fine.ref_ri.clear();
  // Oversampled translations: sub-translation q of coarse translation t is 4 t + q; the phases of
  // all of them are made once, each particle's rows copied.
  EStepSetup subs;
  if (split) {
    const double h = c.oversampled_translation_step / 4;
    subs.px = fine.px;
    for (const Translation& t : coarse.trans)
      for (int q = 0; q < 4; ++q) subs.trans.push_back({t.x + (q % 2 ? h : -h), t.y + (q / 2 ? h : -h)});
    SetTranslationPhases(&subs);
    fine.trans.clear();
    fine.phase.clear();
  }
  const CoarseToFine* cp = &c;
  ctx.local_setup = [cp, local, split, &significant, &significant_trans, &significant_pairs, &prior, &table, &subs](
                        int i, EStepSetup* s) {
    table.Setup(*cp->grid, cp->maps, significant[i], local ? &prior[i] : nullptr, s);
    if (!split) return;
    // The 4 sub-translations of each significant translation; of those, each child is scored with
    // the sub-translations of the translations its parent was significant with.
    const std::vector<int>& trans = significant_trans[i];
    const std::size_t P = static_cast<std::size_t>(s->px.size()), nb = trans.size();
    const std::size_t na = significant[i].size(), nor = static_cast<std::size_t>(s->num_orient());
    EMKIT_CHECK(nor == 8 * na, "8 children per significant orientation");
    s->trans.clear();
    s->phase.resize(nb * 4 * P);
    Complex* out = s->phase.data();
    for (int t : trans)
      for (int q = 0; q < 4; ++q, out += P) {
        const std::size_t r = static_cast<std::size_t>(4 * t + q);
        s->trans.push_back(subs.trans[r]);
        std::copy(subs.phase.begin() + r * P, subs.phase.begin() + (r + 1) * P, out);
      }
    const std::size_t words = (nb + 63) / 64;
    const std::vector<uint64_t>& bits = significant_pairs[i];
    s->sample_mask.assign(4 * nb * nor, 0);
    for (std::size_t a = 0; a < na; ++a)
      for (std::size_t b = 0; b < nb; ++b)
        if (bits[a * words + b / 64] >> (b % 64) & 1)
          for (std::size_t q = 0; q < 4; ++q) std::fill_n(&s->sample_mask[(4 * b + q) * nor + 8 * a], 8, char{1});
  };
  ProgressPassSums counted(sums, progress);
  ExpectationPass(ctx, fine, nullptr, prep, comm, &counted, results);
}

}  // namespace emkit
