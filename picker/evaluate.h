// Pick evaluation against ground truth: one-to-one matching within a radius, precision,
// recall, F1, average precision over the FOM ranking, best-F1 threshold.
// CONTRACT shared by picker/, training/ (validation AP) and benchmarks.
#pragma once

#include <string>
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
};

// Picks with fom >= threshold count as picks for precision/recall/F1; AP and the curve use
// all picks. Matching is one-to-one (optimal assignment) within `radius` pixels.
PickMetrics EvaluatePicks(const std::vector<Coordinate>& picks, const std::vector<Coordinate>& truth,
                          double radius, double threshold);

// Several micrographs at once: metrics over the union (matching stays within a micrograph).
PickMetrics EvaluatePicks(const std::vector<std::vector<Coordinate>>& picks,
                          const std::vector<std::vector<Coordinate>>& truth, double radius, double threshold);

}  // namespace emkit
