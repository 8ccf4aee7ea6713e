// Minimal levelled logging to stderr, and progress reports with time estimates.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <sstream>
#include <string>

namespace emkit {

enum class LogLevel { kError = 0, kWarning = 1, kInfo = 2, kDebug = 3 };
void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
void LogMessage(LogLevel level, const std::string& message);

#define EMKIT_LOG(level, expr)                                                 \
  do {                                                                         \
    if (static_cast<int>(level) <= static_cast<int>(::emkit::GetLogLevel())) { \
      std::ostringstream emkit_log_os_;                                        \
      emkit_log_os_ << expr;                                                   \
      ::emkit::LogMessage(level, emkit_log_os_.str());                         \
    }                                                                          \
  } while (0)
#define LOG_INFO(expr) EMKIT_LOG(::emkit::LogLevel::kInfo, expr)
#define LOG_WARN(expr) EMKIT_LOG(::emkit::LogLevel::kWarning, expr)
#define LOG_DEBUG(expr) EMKIT_LOG(::emkit::LogLevel::kDebug, expr)

// Progress of a long loop: a bar on a terminal, else a log line every ~30 s (pipeline job logs),
// with the time left for this loop (an epoch, an iteration) and, given what follows it, for the
// whole job. Advance is thread-safe and cheap (an atomic add and a clock read), and reporting
// never touches the caller's data: a run's results are the same with progress on or off.

// Seconds left at the rate so far: `done` of `total` units took `elapsed` s; < 0 when unknown
// (nothing done yet).
double EtaSeconds(std::size_t done, std::size_t total, double elapsed);
// "7.5s", "42s", "3m05s", "2h07m"; "?" for a negative (unknown) duration.
std::string FormatDuration(double seconds);

// The work after a Progress's own units, for the whole job's ETA (training's later epochs, a
// classification's later iterations).
struct ProgressAfter {
  int units = 0;             // more loops like this one
  double seconds_each = 0;   // each; <= 0: as long as this one is projected to take
  double seconds_extra = 0;  // besides (e.g. the validation after an epoch's steps)
};
struct ProgressEta {
  double part = -1, all = -1;  // seconds left in this loop and in the job; < 0: unknown
};
ProgressEta EstimateEta(std::size_t done, std::size_t total, double elapsed, const ProgressAfter& after);

// Where a Progress reports. kAuto: a bar when stderr is a terminal, else log lines; nothing
// under --quiet or Progress::SetEnabled(false) (and, in MPI jobs, on ranks other than the root).
enum class ProgressMode { kAuto, kBar, kLines, kOff };
struct ProgressOptions {
  ProgressMode mode = ProgressMode::kAuto;
  std::string unit;  // what is counted ("batches", "particles"), after the count
  // Seconds between log lines; < 0: $EMKIT_PROGRESS_INTERVAL if set, else 30 (0: every Advance).
  double line_interval = -1;
  std::function<double()> clock;                 // seconds; empty: the steady clock (tests inject one)
  std::function<void(const std::string&)> sink;  // receives the lines; empty: info log on stderr
};

// "label [#####     ] 12/40 unit 3.1s ETA 9.2s (total 2m10s) suffix" on a terminal; as lines:
// "label: 12/40 unit (30%), 3.1s, ETA 9.2s (total 2m10s), suffix".
class Progress {
 public:
  Progress(std::string label, std::size_t total, ProgressOptions options = {});
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  // From any thread: n more units done; reports when a report is due.
  void Advance(std::size_t n = 1);
  void SetSuffix(const std::string& suffix);
  void SetAfter(const ProgressAfter& after);
  void Finish();
  std::size_t done() const { return done_.load(std::memory_order_relaxed); }
  // The report's text after the label, as of now (for lines and for tests).
  std::string Status() const;
  static void SetEnabled(bool enabled);

 private:
  double Now() const;
  std::string StatusAt(double now) const;  // mutex_ held
  void Report(double now, bool final);     // mutex_ held
  const std::string label_;
  const std::size_t total_;
  ProgressOptions options_;
  ProgressMode mode_;  // resolved: kBar, kLines or kOff
  double interval_, start_;
  std::atomic<std::size_t> done_{0};
  std::atomic<double> next_report_;
  mutable std::mutex mutex_;  // suffix_, after_, drawing
  std::string suffix_;
  ProgressAfter after_;
  std::size_t last_width_ = 0;
  bool finished_ = false;
};

// Seconds since an arbitrary start, for timing.
double NowSeconds();

}  // namespace emkit
