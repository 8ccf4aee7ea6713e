#include "refine/child_projections.h"

#include <algorithm>
#include <utility>

#include "core/error.h"
#include "core/parallel.h"

namespace emkit {

namespace {
constexpr int kChildren = 8;  // 4 HEALPix children x 2 psi
}

void ChildProjectionTable::Build(const HealpixGrid& grid, const std::vector<const Projector*>& maps,
                                 const FourierPixels& px, const std::vector<const std::vector<int>*>& sets,
                                 std::size_t budget_bytes, int threads) {
  const long n_coarse = grid.orientations();
  P_ = px.size();
  K_ = static_cast<int>(maps.size());
  slot_.assign(static_cast<std::size_t>(n_coarse), -1);
  data_.clear();
  tabulated_ = 0;
  std::vector<int> uses(static_cast<std::size_t>(n_coarse), 0);
  for (const std::vector<int>* s : sets)
    for (int c : *s) {
      EMKIT_CHECK(c >= 0 && c < n_coarse, "coarse orientation index within the grid");
      ++uses[c];
    }
  std::vector<std::pair<int, int>> shared;  // (-uses, index): most shared first, then by index
  for (int c = 0; c < n_coarse; ++c)
    if (uses[c] >= 2) shared.emplace_back(-uses[c], c);
  std::sort(shared.begin(), shared.end());
  const std::size_t row = static_cast<std::size_t>(K_) * kChildren * 2 * P_;  // floats per coarse index
  const std::size_t row_bytes = row * sizeof(float);
  const std::size_t fit = row_bytes ? budget_bytes / row_bytes : 0;
  if (shared.size() > fit) shared.resize(fit);
  std::vector<int> rows;
  for (const auto& e : shared) rows.push_back(e.second);
  std::sort(rows.begin(), rows.end());
  tabulated_ = static_cast<int>(rows.size());
  for (int r = 0; r < tabulated_; ++r) slot_[rows[r]] = r;
  data_.resize(static_cast<std::size_t>(tabulated_) * row);
  ParallelFor(threads, rows.size(), [&](std::size_t r, int) {
    const OrientationSet children = ChildOrientations(grid, {rows[r]});
    std::vector<Complex> section(P_);
    for (int k = 0; k < K_; ++k)
      for (int q = 0; q < kChildren; ++q) {
        maps[k]->SliceAt(children.matrices[q], px.n, px.kx.data(), px.ky.data(), P_, section.data());
        PutReferenceColumn(section.data(), P_, 1, 0,
                           &data_[r * row + (static_cast<std::size_t>(k) * kChildren + q) * 2 * P_]);
      }
  });
}

void ChildProjectionTable::Setup(const HealpixGrid& grid, const std::vector<const Projector*>& maps,
                                 const std::vector<int>& indices, const std::vector<double>* parent_log_prior,
                                 EStepSetup* s) const {
  const int K = static_cast<int>(maps.size());
  EMKIT_CHECK(s->classes == K && (slot_.empty() || (K == K_ && s->px.size() == P_)), "the table's pixels and classes");
  s->orient = ChildOrientations(grid, indices);
  const int nor = s->num_orient();
  EMKIT_CHECK(nor == kChildren * static_cast<int>(indices.size()), "8 children per coarse orientation");
  if (parent_log_prior) {
    EMKIT_CHECK(parent_log_prior->size() == indices.size(), "one log-prior per coarse orientation");
    for (int j = 0; j < nor; ++j) s->orient.log_prior[j] = (*parent_log_prior)[j / kChildren];
  }
  // Made block by block as the E-step needs them (EStepSetup::ref_block): tabulated ones copied,
  // the others projected.
  s->ref_ri.clear();
  s->ref_block = [this, maps, indices, nor](const EStepSetup& e, int m0, int count, float* out) {
    const int P = e.px.size();
    std::vector<Complex> section(P);
    for (int c = 0; c < count; ++c) {
      const int m = m0 + c, k = m / nor, j = m % nor, q = j % kChildren;
      const int row = slot_.empty() ? -1 : slot_[indices[j / kChildren]];
      if (row >= 0) {
        PutReferenceColumn(&data_[((static_cast<std::size_t>(row) * K_ + k) * kChildren + q) * 2 * P], P, count, c,
                           out);
      } else {
        maps[k]->SliceAt(e.orient.matrices[j], e.px.n, e.px.kx.data(), e.px.ky.data(), P, section.data());
        PutReferenceColumn(section.data(), P, count, c, out);
      }
    }
  };
}

}  // namespace emkit
