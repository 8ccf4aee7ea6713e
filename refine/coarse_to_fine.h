// RELION's adaptive oversampling (adaptive_oversampling 1) as one expectation pass in two steps,
// shared by 3D classification and auto-refinement:
//   coarse: every particle scored on cropped images (RELION's image_coarse_size) against the
//           coarse HEALPix grid (global searches) or the grid orientations near its own (local
//           searches, with their Gaussian prior); its significant coarse orientations are kept;
//   fine:   the 8 children (order + 1) of those orientations scored at the current size, every
//           class map projected in each (a class a coarse orientation was significant for or
//           not), local searches with the parent's prior; these weights make the M-step sums.
//           With translations oversampled too (RELION's, for auto-refinement), the coarse pass
//           scores the coarse translation grid and the fine pass the 4 sub-translations
//           (+-1/4 step in x and y) of each coarse translation significant for a kept orientation.
// The children that several particles of the rank share are projected once (ChildProjectionTable).
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

#include "core/log.h"
#include "core/projector.h"
#include "refine/communicator.h"
#include "refine/estep2d.h"
#include "refine/expectation_pass.h"
#include "refine/orientations.h"
#include "refine/particle_prep.h"

namespace emkit {

// RELION's image_coarse_size: the size (<= current_size) at which a rotation by the coarse grid's
// step moves the particle's edge (diameter in Å) by 1.2 of a Fourier pixel's resolution.
int CoarseSize(int healpix_order, double particle_diameter, int box, double pixel_size, int current_size);

// --projection-memory (MB) in bytes.
inline std::size_t ProjectionBytes(int megabytes) { return static_cast<std::size_t>(megabytes) << 20; }

struct CoarseToFine {
  const HealpixGrid* grid = nullptr;
  std::vector<const Projector*> maps;  // one per class
  int box = 0;                         // particle box (the automatic chunk size)
  int chunk_option = 0;                // --chunk (0: automatic)
  int threads = 1;
  // Tabulated projections per rank (--projection-memory): the coarse grid's references (global
  // searches), then the shared children of the fine pass; the rest are projected when scored.
  std::size_t projection_bytes = std::size_t{512} << 20;
  // A cap like RELION's --maxsig: a particle's fine pass takes the children of at most this many
  // of its significant coarse orientations per class, those of the class's largest weight
  // (summed over translations); 0: all of them.
  int max_significant = 0;
  // RELION's translational oversampling: > 0, the step (px) of coarse.trans, whose significant
  // translations the fine pass splits into 4 at +-step/4 (fine.trans unused); 0: both passes
  // score fine.trans.
  double oversampled_translation_step = 0;
  // Local searches: particle i's coarse orientations (a LocalOrientations set with its priors)
  // and their GlobalOrientations indices in *indices. Empty: global searches over the grid.
  std::function<OrientationSet(int particle, std::vector<int>* indices)> local_orientations;
};

// One pass over ctx's particles (ctx.particles or all; this rank's share of its chunks, which this
// sets): `coarse` and `fine` are the setups at the coarse and current sizes with everything but
// the orientations and references (classes == c.maps.size()). The fine pass's sums go to `sums`,
// its results (best class, child orientation, offsets, ...) to `results`. `progress` (may be null)
// counts both passes.
void CoarseToFinePass(PassContext ctx, const EStepSetup& coarse, const EStepSetup& fine, const CoarseToFine& c,
                      const PrepOptions& prep, Communicator& comm, Progress* progress, PassSums* sums,
                      std::vector<ParticleResult>* results);

}  // namespace emkit
