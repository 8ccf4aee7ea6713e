#include "core/parallel.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <vector>

namespace emkit {

ThreadPool::ThreadPool(int threads) {
  for (int i = 1; i < std::max(1, threads); ++i) workers_.emplace_back([this, i] { Worker(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::RunItems(int thread_index) {
  for (;;) {
    std::size_t i;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (next_ >= n_ || error_) return;
      i = next_++;
    }
    try {
      (*job_)(i, thread_index);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
  }
}

void ThreadPool::Worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      ++active_;
    }
    RunItems(index);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      --active_;
    }
    done_.notify_all();
  }
}

void ThreadPool::ParallelFor(std::size_t n, const std::function<void(std::size_t, int)>& fn) {
  if (n == 0) return;
  if (workers_.empty() || n == 1) {
    for (std::size_t i = 0; i < n; ++i) fn(i, 0);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = &fn;
    n_ = n;
    next_ = 0;
    error_ = nullptr;
    ++generation_;
  }
  wake_.notify_all();
  RunItems(0);
  std::exception_ptr err;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return active_ == 0 && (next_ >= n_ || error_); });
    job_ = nullptr;
    n_ = 0;
    err = error_;
  }
  if (err) std::rethrow_exception(err);
}

void ParallelFor(int threads, std::size_t n, const std::function<void(std::size_t, int)>& fn) {
  ThreadPool pool(std::min<std::size_t>(std::max(1, threads), std::max<std::size_t>(n, 1)));
  pool.ParallelFor(n, fn);
}

namespace {
std::atomic<int> g_threads{1};
std::mutex g_listeners_mutex;
std::vector<void (*)(int)>& Listeners() {
  static std::vector<void (*)(int)> listeners;
  return listeners;
}
}  // namespace

void SetGlobalThreads(int threads) {
  threads = std::max(1, threads);
  g_threads = threads;
  omp_set_num_threads(threads);
  std::lock_guard<std::mutex> lock(g_listeners_mutex);
  for (auto* listener : Listeners()) listener(threads);
}

void AddThreadCountListener(void (*listener)(int threads)) {
  std::lock_guard<std::mutex> lock(g_listeners_mutex);
  Listeners().push_back(listener);
  listener(g_threads);
}

int GlobalThreads() { return g_threads; }

}  // namespace emkit
