#include "core/log.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace emkit {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<bool> g_progress_enabled{true};
std::mutex g_io_mutex;
bool g_bar_open = false;  // a bar's line awaits its end (g_io_mutex): a log line starts a new one

constexpr double kBarInterval = 0.1;    // s between redraws of a bar
constexpr double kLineInterval = 30.0;  // s between log lines

// $EMKIT_PROGRESS_INTERVAL (seconds), else the default: tests ask for a line at every step.
double DefaultLineInterval() {
  const char* env = std::getenv("EMKIT_PROGRESS_INTERVAL");
  if (!env || !*env) return kLineInterval;
  char* end = nullptr;
  const double v = std::strtod(env, &end);
  return end != env && std::isfinite(v) && v >= 0 ? v : kLineInterval;
}

ProgressMode ResolveMode(ProgressMode mode) {
  if (!g_progress_enabled || GetLogLevel() < LogLevel::kInfo) return ProgressMode::kOff;
  if (mode != ProgressMode::kAuto) return mode;
  return isatty(STDERR_FILENO) ? ProgressMode::kBar : ProgressMode::kLines;
}
}  // namespace

void SetLogLevel(LogLevel level) { g_level = static_cast<int>(level); }
LogLevel GetLogLevel() { return static_cast<LogLevel>(g_level.load()); }

void LogMessage(LogLevel level, const std::string& message) {
  static const char* kNames[] = {"error", "warning", "info", "debug"};
  std::lock_guard<std::mutex> lock(g_io_mutex);
  if (g_bar_open) std::fputc('\n', stderr);
  g_bar_open = false;
  std::fprintf(stderr, "[%s] %s\n", kNames[static_cast<int>(level)], message.c_str());
}

double EtaSeconds(std::size_t done, std::size_t total, double elapsed) {
  if (done == 0 || total == 0) return -1;
  if (done >= total) return 0;
  return std::max(0.0, elapsed) * static_cast<double>(total - done) / static_cast<double>(done);
}

std::string FormatDuration(double seconds) {
  if (!(seconds >= 0) || !std::isfinite(seconds)) return "?";
  char buf[32];
  if (seconds < 9.95) {
    std::snprintf(buf, sizeof buf, "%.1fs", seconds);
  } else if (seconds < 59.5) {
    std::snprintf(buf, sizeof buf, "%.0fs", seconds);
  } else if (seconds < 3599.5) {
    const long s = std::lround(seconds);
    std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  } else {
    const long m = std::lround(seconds / 60);
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", m / 60, m % 60);
  }
  return buf;
}

ProgressEta EstimateEta(std::size_t done, std::size_t total, double elapsed, const ProgressAfter& after) {
  ProgressEta eta;
  eta.part = EtaSeconds(done, total, elapsed);
  if (eta.part < 0) return eta;
  const double each = after.seconds_each > 0 ? after.seconds_each : std::max(0.0, elapsed) + eta.part;
  eta.all = eta.part + std::max(0, after.units) * each + std::max(0.0, after.seconds_extra);
  return eta;
}

void Progress::SetEnabled(bool enabled) { g_progress_enabled = enabled; }

Progress::Progress(std::string label, std::size_t total, ProgressOptions options)
    : label_(std::move(label)), total_(total), options_(std::move(options)) {
  mode_ = ResolveMode(options_.mode);
  interval_ = mode_ == ProgressMode::kBar   ? kBarInterval
              : options_.line_interval >= 0 ? options_.line_interval
                                            : DefaultLineInterval();
  start_ = Now();
  next_report_ = start_ + interval_;
}

Progress::~Progress() { Finish(); }

double Progress::Now() const { return options_.clock ? options_.clock() : NowSeconds(); }

void Progress::Advance(std::size_t n) {
  const std::size_t done = done_.fetch_add(n, std::memory_order_relaxed) + n;
  if (mode_ == ProgressMode::kOff) return;
  const bool last_bar = mode_ == ProgressMode::kBar && done >= total_;
  double now = Now();
  if (now < next_report_.load(std::memory_order_relaxed) && !last_bar) return;
  std::lock_guard<std::mutex> lock(mutex_);
  // Another thread may have reported meanwhile; the clock is read again under the lock so that
  // reports (and an injected clock's readings) keep their order.
  now = Now();
  if (finished_ || (now < next_report_.load(std::memory_order_relaxed) && !last_bar)) return;
  Report(now, false);
  next_report_.store(now + interval_, std::memory_order_relaxed);
}

void Progress::SetSuffix(const std::string& suffix) {
  std::lock_guard<std::mutex> lock(mutex_);
  suffix_ = suffix;
}

void Progress::SetAfter(const ProgressAfter& after) {
  std::lock_guard<std::mutex> lock(mutex_);
  after_ = after;
}

std::string Progress::Status() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return StatusAt(Now());
}

std::string Progress::StatusAt(double now) const {
  const std::size_t done = std::min(done_.load(std::memory_order_relaxed), total_);
  const double elapsed = now - start_;
  const ProgressEta eta = EstimateEta(done, total_, elapsed, after_);
  std::string s = std::to_string(done) + "/" + std::to_string(total_);
  if (!options_.unit.empty()) s += " " + options_.unit;
  if (mode_ != ProgressMode::kBar && total_ > 0)
    s += " (" + std::to_string(static_cast<int>(100.0 * done / total_)) + "%),";
  s += " " + FormatDuration(elapsed);
  if (eta.part >= 0 && done < total_) {
    s += (mode_ == ProgressMode::kBar ? " ETA " : ", ETA ") + FormatDuration(eta.part);
    if (after_.units > 0 || after_.seconds_extra > 0) s += " (total " + FormatDuration(eta.all) + ")";
  }
  if (!suffix_.empty()) s += (mode_ == ProgressMode::kBar ? " " : ", ") + suffix_;
  return s;
}

void Progress::Report(double now, bool final) {
  const std::string status = StatusAt(now);
  if (mode_ == ProgressMode::kLines) {
    if (final) return;  // the caller's own summary line follows
    const std::string line = label_ + ": " + status;
    if (options_.sink)
      options_.sink(line);
    else
      LogMessage(LogLevel::kInfo, line);
    return;
  }
  const int width = 30;
  const std::size_t done = std::min(done_.load(std::memory_order_relaxed), total_);
  const int filled = total_ ? static_cast<int>(width * double(done) / total_) : width;
  std::string bar(filled, '#');
  bar.resize(width, ' ');
  std::string text = label_ + " [" + bar + "] " + status;
  const std::size_t shown = text.size();
  if (text.size() < last_width_) text.resize(last_width_, ' ');  // covers a longer previous draw
  last_width_ = shown;
  std::lock_guard<std::mutex> io(g_io_mutex);
  if (options_.sink) {
    options_.sink(text);
    return;
  }
  std::fprintf(stderr, "\r%s%s", text.c_str(), final ? "\n" : "");
  std::fflush(stderr);
  g_bar_open = !final;
}

void Progress::Finish() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_) return;
  finished_ = true;
  if (mode_ == ProgressMode::kBar) Report(Now(), true);
}

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace emkit
