#include "refine/coarse_to_fine.h"

#include <algorithm>
#include <cmath>
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
    SetProjectedReferences(c.maps, &coarse);
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
  ctx.on_weights = [local, K, cap, &significant, &candidates, &prior](int i, const EStepSetup& s,
                                                                      const EStepWorkspace& ws, int row) {
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
    if (local) std::vector<int>().swap(candidates[i]);
  };
  std::vector<ParticleResult> coarse_results;
  DiscardSums discard;
  ProgressPassSums counted_coarse(&discard, progress);
  ExpectationPass(ctx, coarse, nullptr, prep, comm, &counted_coarse, &coarse_results);
  ctx.on_weights = nullptr;

  // Fine pass: the children of coarse orientations shared by this rank's particles are projected
  // once.
  std::vector<const std::vector<int>*> sets;
  for (int a = 0; a < count; ++a) {
    const int i = ctx.particles ? (*ctx.particles)[a] : a;
    if (!significant[i].empty()) sets.push_back(&significant[i]);
  }
  ChildProjectionTable table;
  table.Build(*c.grid, c.maps, fine_base.px, sets, c.table_bytes, c.threads);
  EStepSetup fine = fine_base;
  fine.orient = OrientationSet();
  fine.orient.Add({0, 0, 0});  // each particle gets its own orientations (local_setup)
  fine.ref_ri.clear();
  const CoarseToFine* cp = &c;
  ctx.local_setup = [cp, local, &significant, &prior, &table](int i, EStepSetup* s) {
    table.Setup(*cp->grid, cp->maps, significant[i], local ? &prior[i] : nullptr, s);
  };
  ProgressPassSums counted(sums, progress);
  ExpectationPass(ctx, fine, nullptr, prep, comm, &counted, results);
}

}  // namespace emkit
