#include "picker/peaks.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <unordered_map>

#include "core/error.h"

namespace emkit {

namespace {

struct Candidate {
  float score;
  int x, y;
};

// Accepted peaks bucketed by cells of size min_distance: a new peak only checks 3x3 cells.
class PeakGrid {
 public:
  explicit PeakGrid(double cell) : cell_(std::max(cell, 1.0)) {}
  bool HasNeighbour(int x, int y, double min_d2) const {
    const long cx = Cell(x), cy = Cell(y);
    for (long dy = -1; dy <= 1; ++dy)
      for (long dx = -1; dx <= 1; ++dx) {
        auto it = cells_.find(Key(cx + dx, cy + dy));
        if (it == cells_.end()) continue;
        for (const auto& p : it->second) {
          const double ex = p.first - x, ey = p.second - y;
          if (ex * ex + ey * ey < min_d2) return true;
        }
      }
    return false;
  }
  void Add(int x, int y) { cells_[Key(Cell(x), Cell(y))].push_back({x, y}); }

 private:
  long Cell(int v) const { return static_cast<long>(std::floor(v / cell_)); }
  static long long Key(long cx, long cy) { return (static_cast<long long>(cx) << 32) ^ (cy & 0xffffffffLL); }
  double cell_;
  std::unordered_map<long long, std::vector<std::pair<int, int>>> cells_;
};

}  // namespace

std::vector<Coordinate> FindPeaks(const Image& score, const PeakOptions& opt) {
  if (score.nz() != 1) throw InvalidInputError("peak finding: score map must be 2D");
  if (opt.min_distance < 0) throw InvalidInputError("peak finding: min_distance must be >= 0");
  if (opt.border < 0) throw InvalidInputError("peak finding: border must be >= 0");
  if (opt.mask && !opt.mask->SameShape(score))
    throw InvalidInputError("peak finding: mask size differs from the score map");
  const int nx = score.nx(), ny = score.ny();
  // Local maxima (>= all 8 neighbours; plateaus give several, merged by the suppression below).
  std::vector<Candidate> cand;
  for (int y = opt.border; y < ny - opt.border; ++y)
    for (int x = opt.border; x < nx - opt.border; ++x) {
      const float v = score(x, y);
      if (!(v >= opt.threshold)) continue;  // also drops NaN
      if (opt.mask && (*opt.mask)(x, y) == 0) continue;
      bool is_max = true;
      for (int dy = -1; dy <= 1 && is_max; ++dy) {
        const int yy = y + dy;
        if (yy < 0 || yy >= ny) continue;
        for (int dx = -1; dx <= 1; ++dx) {
          const int xx = x + dx;
          if (xx < 0 || xx >= nx || (dx == 0 && dy == 0)) continue;
          if (score(xx, yy) > v) {
            is_max = false;
            break;
          }
        }
      }
      if (is_max) cand.push_back({v, x, y});
    }
  std::sort(cand.begin(), cand.end(), [](const Candidate& a, const Candidate& b) {
    if (a.score != b.score) return a.score > b.score;
    if (a.y != b.y) return a.y < b.y;
    return a.x < b.x;
  });
  // Greedy non-maximum suppression, best first.
  std::vector<Coordinate> peaks;
  PeakGrid grid(opt.min_distance);
  const double min_d2 = opt.min_distance * opt.min_distance;
  for (const auto& c : cand) {
    if (opt.max_peaks > 0 && static_cast<int>(peaks.size()) >= opt.max_peaks) break;
    if (min_d2 > 0 && grid.HasNeighbour(c.x, c.y, min_d2)) continue;
    grid.Add(c.x, c.y);
    Coordinate p;
    p.x = c.x;
    p.y = c.y;
    p.fom = c.score;
    peaks.push_back(p);
  }
  return peaks;
}

}  // namespace emkit
