// Minimal levelled logging to stderr, and a progress bar that only draws on a terminal.
#pragma once

#include <chrono>
#include <cstddef>
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

// Thread-safe progress bar on stderr: "label [#####     ] 12/40 3.1s"; silent when stderr is
// not a terminal (CI logs stay readable) or when disabled.
class Progress {
 public:
  Progress(std::string label, std::size_t total);
  ~Progress();
  void Advance(std::size_t n = 1);
  void SetSuffix(const std::string& suffix);
  void Finish();
  static void SetEnabled(bool enabled);

 private:
  void Draw(bool force);
  std::string label_, suffix_;
  std::size_t total_, done_ = 0;
  bool active_, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// Seconds since an arbitrary start, for timing.
double NowSeconds();

}  // namespace emkit
