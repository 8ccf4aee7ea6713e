#include "simulate/placement.h"

#include <algorithm>
#include <cmath>

namespace emkit {

DiscPlacer::DiscPlacer(int nx, int ny, double max_radius) : nx_(nx), ny_(ny) {
  cell_ = std::max(4.0, 2 * max_radius);
  gx_ = static_cast<int>(std::ceil(nx / cell_)) + 1;
  gy_ = static_cast<int>(std::ceil(ny / cell_)) + 1;
  grid_.resize(static_cast<std::size_t>(gx_) * gy_);
}

bool DiscPlacer::Inside(const Disc& d, double margin) const {
  return d.x >= d.r + margin && d.y >= d.r + margin && d.x <= nx_ - d.r - margin && d.y <= ny_ - d.r - margin;
}

bool DiscPlacer::Overlaps(const Disc& d) const {
  // Discs larger than a cell are checked against everything (they are few: decoys).
  const int reach = static_cast<int>(std::ceil(d.r / cell_)) + 1;
  const int cx = std::clamp(static_cast<int>(d.x / cell_), 0, gx_ - 1);
  const int cy = std::clamp(static_cast<int>(d.y / cell_), 0, gy_ - 1);
  for (int y = std::max(0, cy - reach); y <= std::min(gy_ - 1, cy + reach); ++y)
    for (int x = std::max(0, cx - reach); x <= std::min(gx_ - 1, cx + reach); ++x)
      for (int i : grid_[static_cast<std::size_t>(y) * gx_ + x]) {
        const Disc& o = discs_[i];
        const double dx = o.x - d.x, dy = o.y - d.y, rr = o.r + d.r;
        if (dx * dx + dy * dy < rr * rr) return true;
      }
  // Big discs live in every cell they cover (see Add), so the local search finds them.
  return false;
}

void DiscPlacer::Add(const Disc& d) {
  const int idx = static_cast<int>(discs_.size());
  discs_.push_back(d);
  // Register in every cell the disc (plus the largest partner radius, via the search reach) covers.
  const int x0 = std::clamp(static_cast<int>((d.x - d.r) / cell_), 0, gx_ - 1);
  const int x1 = std::clamp(static_cast<int>((d.x + d.r) / cell_), 0, gx_ - 1);
  const int y0 = std::clamp(static_cast<int>((d.y - d.r) / cell_), 0, gy_ - 1);
  const int y1 = std::clamp(static_cast<int>((d.y + d.r) / cell_), 0, gy_ - 1);
  for (int y = y0; y <= y1; ++y)
    for (int x = x0; x <= x1; ++x) grid_[static_cast<std::size_t>(y) * gx_ + x].push_back(idx);
}

}  // namespace emkit
