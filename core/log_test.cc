// Progress reports and their time estimates, with an injected clock.
#include "core/log.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace emkit {
namespace {

TEST(ProgressEta, RateSoFarGivesTheTimeLeft) {
  EXPECT_LT(EtaSeconds(0, 10, 5.0), 0);  // unknown before the first unit
  EXPECT_DOUBLE_EQ(EtaSeconds(1, 4, 2.0), 6.0);
  EXPECT_DOUBLE_EQ(EtaSeconds(3, 12, 9.0), 27.0);
  EXPECT_DOUBLE_EQ(EtaSeconds(12, 12, 9.0), 0.0);
  EXPECT_DOUBLE_EQ(EtaSeconds(13, 12, 9.0), 0.0);  // over-counted: done
}

TEST(ProgressEta, WholeJobAddsTheLaterLoops) {
  // 10 of 40 steps in 30 s: 90 s left in this epoch, which would take 120 s in all.
  ProgressAfter after;
  after.units = 2;
  ProgressEta e = EstimateEta(10, 40, 30.0, after);
  EXPECT_DOUBLE_EQ(e.part, 90.0);
  EXPECT_DOUBLE_EQ(e.all, 90.0 + 2 * 120.0);
  // Measured loops (100 s each, validation included) and this loop's validation (15 s).
  after.seconds_each = 100;
  after.seconds_extra = 15;
  e = EstimateEta(10, 40, 30.0, after);
  EXPECT_DOUBLE_EQ(e.all, 90.0 + 2 * 100.0 + 15.0);
  // Nothing to follow: the job ends with this loop.
  e = EstimateEta(10, 40, 30.0, ProgressAfter());
  EXPECT_DOUBLE_EQ(e.all, e.part);
  e = EstimateEta(0, 40, 30.0, after);
  EXPECT_LT(e.part, 0);
  EXPECT_LT(e.all, 0);
}

TEST(ProgressEta, Durations) {
  EXPECT_EQ(FormatDuration(-1), "?");
  EXPECT_EQ(FormatDuration(0), "0.0s");
  EXPECT_EQ(FormatDuration(7.46), "7.5s");
  EXPECT_EQ(FormatDuration(42.2), "42s");
  EXPECT_EQ(FormatDuration(59.7), "1m00s");
  EXPECT_EQ(FormatDuration(185), "3m05s");
  EXPECT_EQ(FormatDuration(3599.6), "1h00m");
  EXPECT_EQ(FormatDuration(2 * 3600 + 7 * 60 + 10), "2h07m");
}

struct FakeClock {
  double t = 1000;
  std::function<double()> fn() {
    return [this] { return t; };
  }
};

TEST(Progress, LinesComeAtMostEveryIntervalWithBothEtas) {
  FakeClock clock;
  std::vector<std::string> lines;
  ProgressOptions o;
  o.mode = ProgressMode::kLines;
  o.unit = "batches";
  o.line_interval = 30;
  o.clock = clock.fn();
  o.sink = [&](const std::string& l) { lines.push_back(l); };
  Progress p("epoch 1/3", 40, o);
  ProgressAfter after;
  after.units = 2;
  p.SetAfter(after);
  for (int s = 1; s <= 40; ++s) {
    clock.t += 3;  // 3 s per step
    p.SetSuffix("loss " + std::to_string(s));
    p.Advance();
  }
  p.Finish();
  // Due at 30 s (step 10), 60 s (step 20), 90 s (step 30), 120 s (step 40).
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], "epoch 1/3: 10/40 batches (25%), 30s, ETA 1m30s (total 5m30s), loss 10");
  EXPECT_EQ(lines[1], "epoch 1/3: 20/40 batches (50%), 1m00s, ETA 1m00s (total 5m00s), loss 20");
  EXPECT_EQ(lines[3], "epoch 1/3: 40/40 batches (100%), 2m00s, loss 40");  // done: no ETA

  // A fast loop never reports.
  lines.clear();
  Progress q("fast", 100, o);
  for (int i = 0; i < 100; ++i) {
    clock.t += 0.1;
    q.Advance();
  }
  q.Finish();
  EXPECT_TRUE(lines.empty());
  EXPECT_EQ(q.done(), 100u);
  EXPECT_EQ(q.Status(), "100/100 batches (100%), 10s");
}

TEST(Progress, BarRedrawsAtMostTenTimesASecondAndAtTheEnd) {
  FakeClock clock;
  std::vector<std::string> draws;
  ProgressOptions o;
  o.mode = ProgressMode::kBar;
  o.clock = clock.fn();
  o.sink = [&](const std::string& l) { draws.push_back(l); };
  Progress p("pick", 4, o);
  clock.t += 0.05;
  p.Advance();  // too soon
  EXPECT_TRUE(draws.empty());
  clock.t += 0.15;
  p.Advance();
  ASSERT_EQ(draws.size(), 1u);
  EXPECT_EQ(draws[0], "pick [###############               ] 2/4 0.2s ETA 0.2s");
  clock.t += 0.01;
  p.Advance();
  p.Advance();  // the last unit draws at once
  EXPECT_EQ(draws.size(), 2u);
  EXPECT_EQ(draws[1].substr(0, 41), "pick [##############################] 4/4");
  p.Finish();
  EXPECT_EQ(draws.size(), 3u);
  p.Finish();
  EXPECT_EQ(draws.size(), 3u);
}

TEST(Progress, OffCountsButSaysNothing) {
  std::vector<std::string> lines;
  ProgressOptions o;
  o.mode = ProgressMode::kOff;
  o.sink = [&](const std::string& l) { lines.push_back(l); };
  Progress p("quiet", 5, o);
  p.Advance(5);
  p.Finish();
  EXPECT_TRUE(lines.empty());
  EXPECT_EQ(p.done(), 5u);
}

TEST(Progress, ThreadsCountEveryUnitAndReportOneAtATime) {
  ProgressOptions o;
  o.mode = ProgressMode::kLines;
  o.line_interval = 0;  // a line at every Advance
  std::atomic<int> inside{0}, overlaps{0};
  std::vector<std::string> lines;
  o.sink = [&](const std::string& l) {
    if (inside.fetch_add(1) != 0) overlaps.fetch_add(1);
    lines.push_back(l);
    inside.fetch_sub(1);
  };
  const int kThreads = 4, kEach = 500;
  Progress p("pass", kThreads * kEach, o);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) p.Advance();
    });
  for (auto& t : threads) t.join();
  p.Finish();
  EXPECT_EQ(p.done(), static_cast<std::size_t>(kThreads * kEach));
  EXPECT_EQ(overlaps.load(), 0);
  // A thread that read the clock before another's report may skip its own (interval 0: almost
  // every Advance reports); the reports that are made come one at a time, in order.
  ASSERT_FALSE(lines.empty());
  EXPECT_LE(lines.size(), static_cast<std::size_t>(kThreads * kEach));
  long previous = 0;
  for (const std::string& l : lines) {
    ASSERT_EQ(l.substr(0, 6), "pass: ") << l;
    const long count = std::stol(l.substr(6));
    EXPECT_GE(count, previous) << l;
    EXPECT_LE(count, kThreads * kEach) << l;
    previous = count;
  }
}

TEST(Progress, IntervalFromTheEnvironment) {
  FakeClock clock;
  std::vector<std::string> lines;
  ProgressOptions o;
  o.mode = ProgressMode::kLines;
  o.clock = clock.fn();
  o.sink = [&](const std::string& l) { lines.push_back(l); };
  setenv("EMKIT_PROGRESS_INTERVAL", "2", 1);
  {
    Progress p("env", 10, o);
    for (int i = 0; i < 10; ++i) {
      clock.t += 1;
      p.Advance();
    }
  }
  unsetenv("EMKIT_PROGRESS_INTERVAL");
  EXPECT_EQ(lines.size(), 5u);
  lines.clear();
  {
    Progress p("default", 10, o);  // 30 s
    for (int i = 0; i < 10; ++i) {
      clock.t += 1;
      p.Advance();
    }
  }
  EXPECT_TRUE(lines.empty());
}

}  // namespace
}  // namespace emkit
