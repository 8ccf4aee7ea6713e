#include "core/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <mutex>

namespace emkit {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<bool> g_progress_enabled{true};
std::mutex g_io_mutex;
}  // namespace

void SetLogLevel(LogLevel level) { g_level = static_cast<int>(level); }
LogLevel GetLogLevel() { return static_cast<LogLevel>(g_level.load()); }

void LogMessage(LogLevel level, const std::string& message) {
  static const char* kNames[] = {"error", "warning", "info", "debug"};
  std::lock_guard<std::mutex> lock(g_io_mutex);
  std::fprintf(stderr, "[%s] %s\n", kNames[static_cast<int>(level)], message.c_str());
}

void Progress::SetEnabled(bool enabled) { g_progress_enabled = enabled; }

Progress::Progress(std::string label, std::size_t total)
    : label_(std::move(label)), total_(total), active_(g_progress_enabled && isatty(STDERR_FILENO)) {
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

Progress::~Progress() { Finish(); }

void Progress::Advance(std::size_t n) {
  std::lock_guard<std::mutex> lock(g_io_mutex);
  done_ += n;
  Draw(false);
}

void Progress::SetSuffix(const std::string& suffix) {
  std::lock_guard<std::mutex> lock(g_io_mutex);
  suffix_ = suffix;
}

void Progress::Draw(bool force) {
  if (!active_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_draw_ < std::chrono::milliseconds(100) && done_ < total_) return;
  last_draw_ = now;
  const int width = 30;
  const int filled = total_ ? static_cast<int>(width * double(done_) / total_) : width;
  std::string bar(filled, '#');
  bar.resize(width, ' ');
  const double secs = std::chrono::duration<double>(now - start_).count();
  std::fprintf(stderr, "\r%s [%s] %zu/%zu %.1fs %s", label_.c_str(), bar.c_str(), done_, total_, secs, suffix_.c_str());
  std::fflush(stderr);
}

void Progress::Finish() {
  std::lock_guard<std::mutex> lock(g_io_mutex);
  if (finished_) return;
  finished_ = true;
  if (active_) {
    Draw(true);
    std::fprintf(stderr, "\n");
  }
}

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace emkit
