// Projections of the oversampled children of significant coarse orientations (RELION's adaptive
// oversampling), made once per pass for the coarse orientations that several particles share.
// The broad posteriors of early global iterations give each particle thousands of significant
// orientations, most of them shared by the other particles: projecting them once instead of once
// per particle gives the same values (the same SliceAt on the same matrices), so no result changes.
#pragma once

#include <cstddef>
#include <vector>

#include "core/projector.h"
#include "refine/estep2d.h"
#include "refine/orientations.h"

namespace emkit {

class ChildProjectionTable {
 public:
  // Tabulates, at the pixels `px`, the 8 children of the coarse orientations (GlobalOrientations
  // indices of `grid`) that appear in at least two of `sets`, projected through every one of
  // `maps` (one per class), the most shared first, as many as fit in `budget_bytes`. `threads`
  // only splits the work.
  void Build(const HealpixGrid& grid, const std::vector<const Projector*>& maps, const FourierPixels& px,
             const std::vector<const std::vector<int>*>& sets, std::size_t budget_bytes, int threads);

  // local->orient = ChildOrientations(grid, indices) and the projections of every class map in
  // them (local->classes == maps.size(), reference m = k * num_orient + j; its pixels those the
  // table was built for), made on demand (local->ref_block; the table and maps must outlive it):
  // tabulated ones copied, the others projected. With `parent_log_prior`
  // (one per index), each child gets its parent's log-prior (RELION's local searches); otherwise
  // the flat prior of ChildOrientations.
  void Setup(const HealpixGrid& grid, const std::vector<const Projector*>& maps, const std::vector<int>& indices,
             const std::vector<double>* parent_log_prior, EStepSetup* local) const;

  int tabulated() const { return tabulated_; }
  std::size_t bytes() const { return data_.size() * sizeof(float); }

 private:
  std::vector<int> slot_;    // per coarse index: its row of data_, or -1
  std::vector<float> data_;  // per tabulated coarse index: K classes x 8 children x (P real, P imaginary)
  int P_ = 0, K_ = 0, tabulated_ = 0;
};

}  // namespace emkit
