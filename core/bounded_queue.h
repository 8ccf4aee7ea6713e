// A small bounded FIFO queue for pipelines of stages, each on its own thread, and a helper
// that runs the stages and propagates the first exception. Memory stays flat because a
// producer blocks while the queue holds `capacity` items.
//
//   BoundedQueue<A> q1(2); BoundedQueue<B> q2(2);
//   PipelineStages stages;
//   stages.Add([&] { for (...) if (!q1.Push(a)) return; q1.Close(); }, [&] { q1.Cancel(); q2.Cancel(); });
//   ...
//   stages.Join();  // re-throws the first exception of any stage
#pragma once
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace emkit {

template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(std::size_t capacity) : capacity_(capacity < 1 ? 1 : capacity) {}
  BoundedQueue(const BoundedQueue&) = delete;
  BoundedQueue& operator=(const BoundedQueue&) = delete;

  // Blocks while the queue is full. Returns false (and drops `value`) once the queue is
  // closed or cancelled: the consumer is gone, so the producer should stop.
  bool Push(T value) {
    std::unique_lock<std::mutex> lock(mutex_);
    not_full_.wait(lock, [&] { return closed_ || items_.size() < capacity_; });
    if (closed_) return false;
    items_.push_back(std::move(value));
    not_empty_.notify_one();
    return true;
  }

  // Blocks while the queue is empty and open. Returns nullopt when it is closed and drained
  // (or cancelled).
  std::optional<T> Pop() {
    std::unique_lock<std::mutex> lock(mutex_);
    not_empty_.wait(lock, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) return std::nullopt;
    std::optional<T> out(std::move(items_.front()));
    items_.pop_front();
    not_full_.notify_one();
    return out;
  }

  // The end of the stream: no more pushes; Pop still returns the items already queued.
  void Close() {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    not_empty_.notify_all();
    not_full_.notify_all();
  }

  // Close and drop the queued items: both sides return at once.
  void Cancel() {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    items_.clear();
    not_empty_.notify_all();
    not_full_.notify_all();
  }

  std::size_t capacity() const { return capacity_; }
  std::size_t size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return items_.size();
  }

 private:
  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable not_full_, not_empty_;
  std::deque<T> items_;
  bool closed_ = false;
};

// Runs pipeline stages on their own threads. When a stage throws, the exception is kept
// and `cancel` of every stage is called (cancel the queues so the others stop); Join()
// waits for all stages and re-throws the first exception.
class PipelineStages {
 public:
  PipelineStages() = default;
  PipelineStages(const PipelineStages&) = delete;
  PipelineStages& operator=(const PipelineStages&) = delete;
  ~PipelineStages() {
    if (!joined_) {
      CancelAll();
      for (auto& t : threads_)
        if (t.joinable()) t.join();
    }
  }

  // `cancel` must be safe to call from any thread at any time (BoundedQueue::Cancel is).
  void Add(std::function<void()> stage, std::function<void()> cancel) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      cancels_.push_back(std::move(cancel));
    }
    threads_.emplace_back([this, stage = std::move(stage)] {
      try {
        stage();
      } catch (...) {
        {
          std::lock_guard<std::mutex> lock(mutex_);
          if (!error_) error_ = std::current_exception();
        }
        CancelAll();
      }
    });
  }

  void Join() {
    for (auto& t : threads_)
      if (t.joinable()) t.join();
    joined_ = true;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void CancelAll() {
    std::vector<std::function<void()>> cancels;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      cancels = cancels_;
    }
    for (auto& c : cancels)
      if (c) c();
  }

  std::mutex mutex_;
  std::vector<std::function<void()>> cancels_;
  std::vector<std::thread> threads_;
  std::exception_ptr error_;
  bool joined_ = false;
};

}  // namespace emkit
