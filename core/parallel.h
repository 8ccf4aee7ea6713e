// A small thread pool for data-parallel loops. Work items are identified by index and
// must write only their own outputs, so results never depend on the thread count.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace emkit {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls fn(i, thread_index) for i in [0, n); blocks until all are done. Items are handed
  // out dynamically; the first exception thrown is re-thrown here.
  void ParallelFor(std::size_t n, const std::function<void(std::size_t, int)>& fn);

 private:
  void Worker(int index);
  void RunItems(int thread_index);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(std::size_t, int)>* job_ = nullptr;
  std::size_t n_ = 0, next_ = 0;
  int active_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
};

// One-shot helper: a pool of `threads` (1 = run inline).
void ParallelFor(int threads, std::size_t n, const std::function<void(std::size_t, int)>& fn);

// Sets the thread count of OpenMP and of every library registered below (OpenCV, torch:
// they live in libraries the light emkit commands never load) and remembers it for emkit's
// own pools.
void SetGlobalThreads(int threads);
int GlobalThreads();
// Adds a function SetGlobalThreads calls with the new count (a library with its own pool
// registers it once, when it is loaded). Called at once with the current count.
void AddThreadCountListener(void (*listener)(int threads));

}  // namespace emkit
