#include "picker/evaluate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/random.h"

namespace emkit {
namespace {

Coordinate C(double x, double y, double fom = 1) {
  Coordinate c;
  c.x = x;
  c.y = y;
  c.fom = fom;
  return c;
}

TEST(EvaluatePicks, OptimalMatchingBeatsGreedyByDistance) {
  // Greedy by distance pairs A with T1 (2.0) first and then nothing else fits: 1 match.
  // The optimal assignment is A-T2 (2.9) and B-T1 (2.5): 2 matches.
  std::vector<Coordinate> picks = {C(0, 0), C(4.5, 0)};
  std::vector<Coordinate> truth = {C(2, 0), C(-2.9, 0)};
  auto pairs = MatchPicks(picks, truth, 3.0);
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(pairs[0], std::make_pair(0, 1));
  EXPECT_EQ(pairs[1], std::make_pair(1, 0));
  PickMetrics m = EvaluatePicks(picks, truth, 3.0, 0.5);
  EXPECT_EQ(m.true_positives, 2);
  EXPECT_DOUBLE_EQ(m.precision, 1.0);
  EXPECT_DOUBLE_EQ(m.recall, 1.0);
  EXPECT_NEAR(m.mean_distance, (2.9 + 2.5) / 2, 1e-12);
}

TEST(EvaluatePicks, AmongLargestMatchingsTheCheapestIsChosen) {
  std::vector<Coordinate> picks = {C(0, 0), C(1, 0)};
  std::vector<Coordinate> truth = {C(0.9, 0), C(0.1, 0)};
  auto pairs = MatchPicks(picks, truth, 2.0);
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(pairs[0].second, 1);
  EXPECT_EQ(pairs[1].second, 0);
  EXPECT_NEAR(EvaluatePicks(picks, truth, 2.0, 0).mean_distance, 0.1, 1e-12);
}

TEST(EvaluatePicks, MatchesBruteForceOnRandomInstances) {
  for (int trial = 0; trial < 200; ++trial) {
    Rng rng(7, trial);
    const int np = rng.UniformInt(0, 6), nt = rng.UniformInt(0, 6);
    std::vector<Coordinate> picks, truth;
    for (int i = 0; i < np; ++i) picks.push_back(C(rng.Uniform(0, 10), rng.Uniform(0, 10)));
    for (int j = 0; j < nt; ++j) truth.push_back(C(rng.Uniform(0, 10), rng.Uniform(0, 10)));
    const double radius = 3;
    // Brute force: every injective assignment of picks to truth-or-nothing.
    int best_n = 0;
    double best_cost = 0;
    std::vector<int> assign(np, -1);
    std::function<void(int, std::vector<bool>&, int, double)> rec = [&](int i, std::vector<bool>& used, int n,
                                                                        double cost) {
      if (i == np) {
        if (n > best_n || (n == best_n && cost < best_cost - 1e-9)) best_n = n, best_cost = cost;
        return;
      }
      rec(i + 1, used, n, cost);
      for (int j = 0; j < nt; ++j) {
        const double d = std::hypot(picks[i].x - truth[j].x, picks[i].y - truth[j].y);
        if (used[j] || d > radius) continue;
        used[j] = true;
        rec(i + 1, used, n + 1, cost + d);
        used[j] = false;
      }
    };
    std::vector<bool> used(nt, false);
    rec(0, used, 0, 0.0);
    auto pairs = MatchPicks(picks, truth, radius);
    double cost = 0;
    std::vector<int> seen_truth;
    for (auto [i, j] : pairs) {
      const double d = std::hypot(picks[i].x - truth[j].x, picks[i].y - truth[j].y);
      EXPECT_LE(d, radius);
      cost += d;
      seen_truth.push_back(j);
    }
    std::sort(seen_truth.begin(), seen_truth.end());
    EXPECT_EQ(std::unique(seen_truth.begin(), seen_truth.end()), seen_truth.end()) << "trial " << trial;
    ASSERT_EQ(static_cast<int>(pairs.size()), best_n) << "trial " << trial;
    EXPECT_NEAR(cost, best_cost, 1e-9) << "trial " << trial;
    // The ranked curve ends with every pick in: its TP count is the same maximum.
    if (np > 0) {
      PickMetrics m = EvaluatePicks(picks, truth, radius, -1e9);
      EXPECT_EQ(m.true_positives, best_n);
      EXPECT_NEAR(m.curve.back().recall, nt ? double(best_n) / nt : 0.0, 1e-12);
    }
  }
}

TEST(EvaluatePicks, HandComputedPrecisionRecallAndAveragePrecision) {
  // Ranking (fom 4,3,2,1): TP, FP, TP, FP against 3 truth particles.
  std::vector<Coordinate> truth = {C(0, 0), C(100, 0), C(200, 0)};
  std::vector<Coordinate> picks = {C(1, 0, 4), C(50, 50, 3), C(101, 1, 2), C(300, 300, 1)};
  PickMetrics m = EvaluatePicks(picks, truth, 5.0, 2.5);
  // At threshold 2.5: picks with fom 4 and 3, one of them true.
  EXPECT_EQ(m.n_picks, 2);
  EXPECT_EQ(m.n_truth, 3);
  EXPECT_EQ(m.true_positives, 1);
  EXPECT_DOUBLE_EQ(m.precision, 0.5);
  EXPECT_DOUBLE_EQ(m.recall, 1.0 / 3);
  EXPECT_NEAR(m.f1, 2 * 0.5 * (1.0 / 3) / (0.5 + 1.0 / 3), 1e-12);
  // AP = sum (R_n - R_n-1) P_n = 1/3 * 1 + 0 + 1/3 * 2/3 + 0 = 5/9 (sklearn's definition).
  EXPECT_NEAR(m.average_precision, 5.0 / 9, 1e-12);
  ASSERT_EQ(m.curve.size(), 4u);
  EXPECT_DOUBLE_EQ(m.curve[2].precision, 2.0 / 3);
  EXPECT_DOUBLE_EQ(m.curve[2].recall, 2.0 / 3);
  EXPECT_NEAR(m.best_f1, 2.0 / 3, 1e-12);
  EXPECT_DOUBLE_EQ(m.best_f1_threshold, 2);
}

TEST(EvaluatePicks, RankedCurveReassignsEarlierMatches) {
  // The best pick lies between two truth particles; the second pick only reaches the first.
  // With both picks in, the optimum is 2 matches although the first prefix grabbed T0.
  std::vector<Coordinate> truth = {C(0, 0), C(4, 0)};
  std::vector<Coordinate> picks = {C(1.9, 0, 2), C(-2, 0, 1)};
  PickMetrics m = EvaluatePicks(picks, truth, 2.5, 0);
  ASSERT_EQ(m.curve.size(), 2u);
  EXPECT_DOUBLE_EQ(m.curve[0].recall, 0.5);
  EXPECT_DOUBLE_EQ(m.curve[1].recall, 1.0);
  EXPECT_DOUBLE_EQ(m.curve[1].precision, 1.0);
  EXPECT_DOUBLE_EQ(m.average_precision, 1.0);
}

TEST(EvaluatePicks, TiedScoresEnterTogetherAndMicrographsDoNotMix) {
  std::vector<std::vector<Coordinate>> truth = {{C(0, 0)}, {C(50, 50)}};
  // Micrograph 0 pick is at micrograph 1's truth position: no match across micrographs.
  std::vector<std::vector<Coordinate>> picks = {{C(50, 50, 1), C(0, 1, 1)}, {C(51, 50, 1)}};
  PickMetrics m = EvaluatePicks(picks, truth, 3.0, 1.0);
  EXPECT_EQ(m.n_picks, 3);
  EXPECT_EQ(m.true_positives, 2);
  ASSERT_EQ(m.curve.size(), 1u);  // one distinct threshold
  EXPECT_DOUBLE_EQ(m.curve[0].precision, 2.0 / 3);
  EXPECT_DOUBLE_EQ(m.curve[0].recall, 1.0);
  EXPECT_NEAR(m.average_precision, 2.0 / 3, 1e-12);
}

TEST(EvaluatePicks, EmptyInputsAndBadRadius) {
  PickMetrics m = EvaluatePicks(std::vector<Coordinate>{}, std::vector<Coordinate>{C(1, 1)}, 2, 0);
  EXPECT_EQ(m.n_picks, 0);
  EXPECT_EQ(m.precision, 0);
  EXPECT_EQ(m.recall, 0);
  EXPECT_TRUE(m.curve.empty());
  m = EvaluatePicks(std::vector<Coordinate>{C(1, 1)}, std::vector<Coordinate>{}, 2, 0);
  EXPECT_EQ(m.true_positives, 0);
  EXPECT_EQ(m.average_precision, 0);
  EXPECT_THROW(EvaluatePicks(std::vector<Coordinate>{}, std::vector<Coordinate>{}, 0, 0), std::exception);
  EXPECT_THROW(EvaluatePicks(std::vector<std::vector<Coordinate>>(2), std::vector<std::vector<Coordinate>>(1), 1, 0),
               std::exception);
  EXPECT_THROW(EvaluatePicks(std::vector<Coordinate>{C(1, 1, NAN)}, std::vector<Coordinate>{C(1, 1)}, 2, 0),
               std::exception);
}

}  // namespace
}  // namespace emkit
