// Pick evaluation against ground truth: one-to-one matching within a radius, precision,
// recall, F1, average precision over the FOM ranking, best-F1 threshold.
// CONTRACT shared by picker/, training/ (validation AP) and benchmarks.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "io/coordinates.h"

namespace emkit {

struct PrPoint {
  double threshold, precision, recall, f1;
};

struct PickMetrics {
  int n_picks = 0, n_truth = 0, true_positives = 0;
  double precision = 0, recall = 0, f1 = 0;   // at the given threshold
  double average_precision = 0;               // over the whole FOM ranking
  double best_f1 = 0, best_f1_threshold = 0;  // F1-optimal threshold
  std::vector<PrPoint> curve;                 // decreasing threshold
  double mean_distance = 0;                   // of the matched pairs at the threshold (pixels)
};

// Average precision as sklearn's average_precision_score: the area under the stepwise PR
// curve, sum over distinct thresholds (decreasing) of (R_n - R_(n-1)) * P_n with R_0 = 0.
// The recall denominator is every truth particle, so missed particles cap the recall below 1.

// The optimal one-to-one assignment between picks and truth within `radius`: the largest
// number of pairs, and among those the smallest total distance (min-cost flow, exact).
// Returns (pick index, truth index) pairs sorted by pick index.
std::vector<std::pair<int, int>> MatchPicks(const std::vector<Coordinate>& picks, const std::vector<Coordinate>& truth,
                                            double radius);

// Picks with fom >= threshold count as picks for precision/recall/F1; AP and the curve use
// all picks. Matching is one-to-one (optimal assignment) within `radius` pixels.
PickMetrics EvaluatePicks(const std::vector<Coordinate>& picks, const std::vector<Coordinate>& truth, double radius,
                          double threshold);

// Several micrographs at once: metrics over the union (matching stays within a micrograph).
PickMetrics EvaluatePicks(const std::vector<std::vector<Coordinate>>& picks,
                          const std::vector<std::vector<Coordinate>>& truth, double radius, double threshold);

}  // namespace emkit
