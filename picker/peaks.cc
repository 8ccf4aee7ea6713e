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

double AdaptivePeakThreshold(std::vector<float> scores, double floor) {
  scores.erase(std::remove_if(scores.begin(), scores.end(), [](float v) { return !std::isfinite(v); }), scores.end());
  const std::size_t n = scores.size();
  if (n < 2) return floor;
  std::sort(scores.begin(), scores.end());
  const double median = scores[n / 2];
  std::vector<double> deviation(n);
  for (std::size_t i = 0; i < n; ++i) deviation[i] = std::fabs(scores[i] - median);
  std::nth_element(deviation.begin(), deviation.begin() + n / 2, deviation.end());
  const double clip = median + 5 * 1.4826 * deviation[n / 2];
  std::vector<double> v(scores.begin(), scores.end());
  for (auto& x : v) x = std::min(x, clip);  // stays sorted
  double total = 0;
  for (double x : v) total += x;
  // Cut between v[i - 1] and v[i]: classes of i and n - i scores.
  double best = -1, cut = floor, below = 0;
  for (std::size_t i = 1; i < n; ++i) {
    below += v[i - 1];
    if (v[i] == v[i - 1]) continue;  // no cut between equal scores
    const double n0 = static_cast<double>(i), n1 = static_cast<double>(n - i);
    const double d = below / n0 - (total - below) / n1;
    const double between = n0 * n1 * d * d;
    if (between > best) {
      best = between;
      cut = 0.5 * (v[i - 1] + v[i]);
    }
  }
  return std::max(cut, floor);
}

}  // namespace emkit
