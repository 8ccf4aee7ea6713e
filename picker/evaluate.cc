#include "picker/evaluate.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <queue>
#include <string>
#include <unordered_map>

#include "core/error.h"

namespace emkit {

namespace {

// Candidate pairs (pick -> truth indices within the radius), found through a grid of truth.
std::vector<std::vector<std::pair<int, double>>> CandidatePairs(const std::vector<Coordinate>& picks,
                                                                const std::vector<Coordinate>& truth, double radius) {
  if (!(radius > 0)) throw InvalidInputError("pick evaluation: radius must be > 0");
  auto cell = [radius](double v) { return static_cast<long>(std::floor(v / radius)); };
  auto key = [](long cx, long cy) { return (static_cast<long long>(cx) << 32) ^ (cy & 0xffffffffLL); };
  std::unordered_map<long long, std::vector<int>> grid;
  for (int j = 0; j < static_cast<int>(truth.size()); ++j) grid[key(cell(truth[j].x), cell(truth[j].y))].push_back(j);
  std::vector<std::vector<std::pair<int, double>>> adj(picks.size());
  const double r2 = radius * radius;
  for (std::size_t i = 0; i < picks.size(); ++i) {
    const long cx = cell(picks[i].x), cy = cell(picks[i].y);
    for (long dy = -1; dy <= 1; ++dy)
      for (long dx = -1; dx <= 1; ++dx) {
        auto it = grid.find(key(cx + dx, cy + dy));
        if (it == grid.end()) continue;
        for (int j : it->second) {
          const double ex = picks[i].x - truth[j].x, ey = picks[i].y - truth[j].y;
          const double d2 = ex * ex + ey * ey;
          if (d2 <= r2) adj[i].push_back({j, std::sqrt(d2)});
        }
      }
    std::sort(adj[i].begin(), adj[i].end());
  }
  return adj;
}

// Maximum bipartite matching grown one pick at a time (Kuhn): after adding pick v to a graph
// whose matching is maximum, the new maximum is one larger exactly when an augmenting path
// starts at v (Berge). So the count after each prefix of the ranking is exact.
class IncrementalMatching {
 public:
  IncrementalMatching(const std::vector<std::vector<std::pair<int, double>>>* adj, int n_truth)
      : adj_(adj), truth_match_(n_truth, -1), seen_(n_truth, 0) {}
  bool Add(int pick) {
    ++stamp_;
    return Augment(pick);
  }

 private:
  bool Augment(int pick) {
    for (const auto& e : (*adj_)[pick]) {
      const int t = e.first;
      if (seen_[t] == stamp_) continue;
      seen_[t] = stamp_;
      if (truth_match_[t] < 0 || Augment(truth_match_[t])) {
        truth_match_[t] = pick;
        return true;
      }
    }
    return false;
  }
  const std::vector<std::vector<std::pair<int, double>>>* adj_;
  std::vector<int> truth_match_;
  std::vector<int> seen_;
  int stamp_ = 0;
};

struct RankedPick {
  double fom;
  int micrograph, index;
};

}  // namespace

namespace {

// Min-cost maximum matching of one connected component (local indices); returns the truth
// matched to each pick (-1 = none).
std::vector<int> MatchComponent(const std::vector<std::vector<std::pair<int, double>>>& adj, int nt) {
  const int np = static_cast<int>(adj.size());
  // Successive shortest augmenting paths (Dijkstra with potentials) on the residual graph
  // source -> picks -> truth -> sink, unit capacities, cost = distance: every augmentation
  // keeps the matching of its size cheapest, and it stops at the maximum size.
  std::vector<int> pick_match(np, -1), truth_match(nt, -1);
  std::vector<double> pot_pick(np, 0), pot_truth(nt, 0);
  double pot_sink = 0;
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> dist_pick(np), dist_truth(nt);
  std::vector<int> prev_pick(nt);  // pick from which truth t was reached
  while (true) {
    std::fill(dist_pick.begin(), dist_pick.end(), inf);
    std::fill(dist_truth.begin(), dist_truth.end(), inf);
    using Item = std::pair<double, int>;  // (distance, node): node < np pick, else truth node - np
    std::priority_queue<Item, std::vector<Item>, std::greater<Item>> queue;
    for (int i = 0; i < np; ++i)
      if (pick_match[i] < 0 && !adj[i].empty()) {
        dist_pick[i] = 0;
        queue.push({0.0, i});
      }
    double best = inf;
    int best_truth = -1;
    while (!queue.empty()) {
      auto [d, node] = queue.top();
      queue.pop();
      if (node < np) {
        if (d > dist_pick[node]) continue;
        for (const auto& e : adj[node]) {
          const int t = e.first;
          if (pick_match[node] == t) continue;  // matched edge only goes backwards
          const double nd = d + e.second + pot_pick[node] - pot_truth[t];
          if (nd < dist_truth[t] - 1e-12) {
            dist_truth[t] = nd;
            prev_pick[t] = node;
            queue.push({nd, np + t});
          }
        }
      } else {
        const int t = node - np;
        if (d > dist_truth[t]) continue;
        if (truth_match[t] < 0) {  // edge to the sink, reduced cost pot_truth - pot_sink
          const double ds = d + pot_truth[t] - pot_sink;
          if (ds < best) best = ds, best_truth = t;
          continue;
        }
        const int i = truth_match[t];  // backwards along the matched edge, cost -distance
        double w = 0;
        for (const auto& e : adj[i])
          if (e.first == t) w = e.second;
        const double nd = d - w + pot_truth[t] - pot_pick[i];
        if (nd < dist_pick[i] - 1e-12) {
          dist_pick[i] = nd;
          queue.push({nd, i});
        }
      }
    }
    if (best_truth < 0) break;
    // Johnson potentials capped at the sink distance keep every reduced cost >= 0.
    for (int i = 0; i < np; ++i) pot_pick[i] += std::min(dist_pick[i], best);
    for (int t = 0; t < nt; ++t) pot_truth[t] += std::min(dist_truth[t], best);
    pot_sink += best;
    // Flip the path back to its free pick.
    int t = best_truth;
    while (t >= 0) {
      const int i = prev_pick[t];
      const int previous = pick_match[i];
      pick_match[i] = t;
      truth_match[t] = i;
      t = previous;
    }
  }
  return pick_match;
}

}  // namespace

std::vector<std::pair<int, int>> MatchPicks(const std::vector<Coordinate>& picks, const std::vector<Coordinate>& truth,
                                            double radius) {
  const auto adj = CandidatePairs(picks, truth, radius);
  const int np = static_cast<int>(picks.size()), nt = static_cast<int>(truth.size());
  // Connected components of the candidate graph (union-find; truth j is node np + j) are
  // matched independently: the optimum of the whole is the union of their optima, and most
  // components hold one pick and one particle.
  std::vector<int> parent(np + nt);
  for (int i = 0; i < np + nt; ++i) parent[i] = i;
  auto find = [&](int v) {
    while (parent[v] != v) v = parent[v] = parent[parent[v]];
    return v;
  };
  for (int i = 0; i < np; ++i)
    for (const auto& e : adj[i]) parent[find(i)] = find(np + e.first);
  std::vector<std::vector<int>> comp_picks(np + nt), comp_truth(np + nt);
  for (int i = 0; i < np; ++i)
    if (!adj[i].empty()) comp_picks[find(i)].push_back(i);
  for (int j = 0; j < nt; ++j) comp_truth[find(np + j)].push_back(j);
  std::vector<std::pair<int, int>> pairs;
  std::vector<int> local_truth(nt, -1);
  for (int c = 0; c < np + nt; ++c) {
    if (comp_picks[c].empty()) continue;
    const auto& cp = comp_picks[c];
    const auto& ct = comp_truth[c];
    for (int k = 0; k < static_cast<int>(ct.size()); ++k) local_truth[ct[k]] = k;
    std::vector<std::vector<std::pair<int, double>>> local(cp.size());
    for (std::size_t k = 0; k < cp.size(); ++k)
      for (const auto& e : adj[cp[k]]) local[k].push_back({local_truth[e.first], e.second});
    const std::vector<int> m = MatchComponent(local, static_cast<int>(ct.size()));
    for (std::size_t k = 0; k < cp.size(); ++k)
      if (m[k] >= 0) pairs.push_back({cp[k], ct[m[k]]});
  }
  std::sort(pairs.begin(), pairs.end());
  return pairs;
}

PickMetrics EvaluatePicks(const std::vector<std::vector<Coordinate>>& picks,
                          const std::vector<std::vector<Coordinate>>& truth, double radius, double threshold) {
  if (picks.size() != truth.size())
    throw InvalidInputError("pick evaluation: " + std::to_string(picks.size()) + " micrographs of picks but " +
                            std::to_string(truth.size()) + " of truth");
  if (!(radius > 0)) throw InvalidInputError("pick evaluation: radius must be > 0");
  PickMetrics m;
  std::vector<RankedPick> ranked;
  std::vector<std::vector<std::vector<std::pair<int, double>>>> adj(picks.size());
  std::vector<IncrementalMatching> matchers;
  matchers.reserve(picks.size());
  double distance_sum = 0;
  for (std::size_t k = 0; k < picks.size(); ++k) {
    m.n_truth += static_cast<int>(truth[k].size());
    adj[k] = CandidatePairs(picks[k], truth[k], radius);
    matchers.emplace_back(&adj[k], static_cast<int>(truth[k].size()));
    std::vector<Coordinate> kept;
    for (std::size_t i = 0; i < picks[k].size(); ++i) {
      if (!std::isfinite(picks[k][i].fom))
        throw InvalidInputError("pick evaluation: pick " + std::to_string(i + 1) + " of micrograph " +
                                std::to_string(k + 1) + " has a non-finite figure of merit");
      ranked.push_back({picks[k][i].fom, static_cast<int>(k), static_cast<int>(i)});
      if (picks[k][i].fom >= threshold) kept.push_back(picks[k][i]);
    }
    m.n_picks += static_cast<int>(kept.size());
    for (const auto& [i, j] : MatchPicks(kept, truth[k], radius)) {
      ++m.true_positives;
      distance_sum += std::hypot(kept[i].x - truth[k][j].x, kept[i].y - truth[k][j].y);
    }
  }
  auto f1 = [](double p, double r) { return p + r > 0 ? 2 * p * r / (p + r) : 0.0; };
  m.precision = m.n_picks > 0 ? double(m.true_positives) / m.n_picks : 0;
  m.recall = m.n_truth > 0 ? double(m.true_positives) / m.n_truth : 0;
  m.f1 = f1(m.precision, m.recall);
  m.mean_distance = m.true_positives > 0 ? distance_sum / m.true_positives : 0;

  std::sort(ranked.begin(), ranked.end(), [](const RankedPick& a, const RankedPick& b) {
    if (a.fom != b.fom) return a.fom > b.fom;
    if (a.micrograph != b.micrograph) return a.micrograph < b.micrograph;
    return a.index < b.index;
  });
  int tp = 0;
  double previous_recall = 0;
  for (std::size_t n = 0; n < ranked.size(); ++n) {
    if (matchers[ranked[n].micrograph].Add(ranked[n].index)) ++tp;
    if (n + 1 < ranked.size() && ranked[n + 1].fom == ranked[n].fom) continue;  // ties enter together
    PrPoint p;
    p.threshold = ranked[n].fom;
    p.precision = double(tp) / (n + 1);
    p.recall = m.n_truth > 0 ? double(tp) / m.n_truth : 0;
    p.f1 = f1(p.precision, p.recall);
    m.average_precision += (p.recall - previous_recall) * p.precision;
    previous_recall = p.recall;
    if (p.f1 > m.best_f1) {
      m.best_f1 = p.f1;
      m.best_f1_threshold = p.threshold;
    }
    m.curve.push_back(p);
  }
  return m;
}

PickMetrics EvaluatePicks(const std::vector<Coordinate>& picks, const std::vector<Coordinate>& truth, double radius,
                          double threshold) {
  return EvaluatePicks(std::vector<std::vector<Coordinate>>{picks}, std::vector<std::vector<Coordinate>>{truth}, radius,
                       threshold);
}

}  // namespace emkit
