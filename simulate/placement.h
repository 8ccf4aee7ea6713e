// Random non-overlapping placement of discs (particles, decoys) on a micrograph.
#pragma once

#include <cmath>
#include <vector>

#include "core/random.h"

namespace emkit {

struct Disc {
  double x = 0, y = 0, r = 0;  // centre (x = column, y = row) and radius, pixels
};

// Keeps placed discs in a grid so overlap tests are local.
class DiscPlacer {
 public:
  // Centres stay `margin` + r inside the nx x ny area.
  DiscPlacer(int nx, int ny, double max_radius);

  bool Overlaps(const Disc& d) const;
  bool Inside(const Disc& d, double margin) const;
  void Add(const Disc& d);
  // Uniform random position for a disc of radius r that overlaps nothing, away from the
  // edges by `margin` and for which `allowed(x, y)` holds; false after `tries` failures.
  template <class F>
  bool PlaceRandom(Rng* rng, double r, double margin, F&& allowed, Disc* out, int tries = 2000);
  // A disc of radius r touching (gap in [0, max_gap]) an already placed disc `neighbour`.
  template <class F>
  bool PlaceTouching(Rng* rng, const Disc& neighbour, double r, double max_gap, double margin, F&& allowed, Disc* out,
                     int tries = 64);
  const std::vector<Disc>& discs() const { return discs_; }

 private:
  int nx_, ny_;
  double cell_;
  int gx_, gy_;
  std::vector<std::vector<int>> grid_;
  std::vector<Disc> discs_;
};

// ---------------------------------------------------------------------------------------
template <class F>
bool DiscPlacer::PlaceRandom(Rng* rng, double r, double margin, F&& allowed, Disc* out, int tries) {
  for (int t = 0; t < tries; ++t) {
    Disc d{rng->Uniform(r + margin, nx_ - r - margin), rng->Uniform(r + margin, ny_ - r - margin), r};
    if (!allowed(d.x, d.y) || Overlaps(d)) continue;
    Add(d);
    *out = d;
    return true;
  }
  return false;
}

template <class F>
bool DiscPlacer::PlaceTouching(Rng* rng, const Disc& nb, double r, double max_gap, double margin, F&& allowed,
                               Disc* out, int tries) {
  for (int t = 0; t < tries; ++t) {
    const double a = rng->Uniform(0, 2 * M_PI), dist = nb.r + r + rng->Uniform(0, max_gap) + 1e-6;
    Disc d{nb.x + dist * std::cos(a), nb.y + dist * std::sin(a), r};
    if (!Inside(d, margin) || !allowed(d.x, d.y) || Overlaps(d)) continue;
    Add(d);
    *out = d;
    return true;
  }
  return false;
}

}  // namespace emkit
