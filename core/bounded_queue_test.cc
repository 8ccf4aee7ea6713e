#include "core/bounded_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace emkit {
namespace {

TEST(BoundedQueue, KeepsFifoOrderAcrossThreads) {
  BoundedQueue<int> q(2);
  std::thread producer([&] {
    for (int i = 0; i < 1000; ++i) ASSERT_TRUE(q.Push(i));
    q.Close();
  });
  std::vector<int> got;
  while (std::optional<int> v = q.Pop()) got.push_back(*v);
  producer.join();
  ASSERT_EQ(got.size(), 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(got[i], i);
}

TEST(BoundedQueue, PushBlocksAtCapacityUntilAPop) {
  BoundedQueue<int> q(2);
  EXPECT_TRUE(q.Push(1));
  EXPECT_TRUE(q.Push(2));
  std::atomic<bool> third_done{false};
  std::thread producer([&] {
    q.Push(3);
    third_done = true;
  });
  // The producer must still be blocked: the queue is full. (Not a timing assertion on
  // speed: a blocked Push can never finish, however long we wait.)
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(third_done.load());
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(*q.Pop(), 1);
  producer.join();
  EXPECT_TRUE(third_done.load());
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(*q.Pop(), 2);
  EXPECT_EQ(*q.Pop(), 3);
}

TEST(BoundedQueue, CloseDrainsThenEndsAndRefusesPushes) {
  BoundedQueue<std::string> q(3);
  q.Push("a");
  q.Push("b");
  q.Close();
  EXPECT_FALSE(q.Push("c"));
  EXPECT_EQ(*q.Pop(), "a");
  EXPECT_EQ(*q.Pop(), "b");
  EXPECT_FALSE(q.Pop().has_value());
  // A consumer blocked on an empty queue wakes up on Close.
  BoundedQueue<int> empty(1);
  std::thread consumer([&] { EXPECT_FALSE(empty.Pop().has_value()); });
  empty.Close();
  consumer.join();
}

TEST(BoundedQueue, CancelWakesABlockedProducerAndDropsItems) {
  BoundedQueue<int> q(1);
  q.Push(1);
  std::thread producer([&] { EXPECT_FALSE(q.Push(2)); });
  q.Cancel();
  producer.join();
  EXPECT_FALSE(q.Pop().has_value());
}

TEST(PipelineStages, PropagatesTheFirstExceptionAndCancelsTheOtherStages) {
  BoundedQueue<int> a(2), b(2);
  auto cancel = [&] {
    a.Cancel();
    b.Cancel();
  };
  std::vector<int> written;
  PipelineStages stages;
  // An endless producer: only cancellation can stop it.
  stages.Add(
      [&] {
        for (int i = 0;; ++i)
          if (!a.Push(i)) return;
      },
      cancel);
  stages.Add(
      [&] {
        while (std::optional<int> v = a.Pop()) {
          if (*v == 5) throw std::runtime_error("stage failed on item 5");
          if (!b.Push(*v)) return;
        }
        b.Close();
      },
      cancel);
  stages.Add(
      [&] {
        while (std::optional<int> v = b.Pop()) written.push_back(*v);
      },
      cancel);
  try {
    stages.Join();
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "stage failed on item 5");
  }
  EXPECT_LE(written.size(), 5u);
  for (std::size_t i = 0; i < written.size(); ++i) EXPECT_EQ(written[i], static_cast<int>(i));
}

TEST(PipelineStages, JoinReturnsNormallyWhenAllStagesFinish) {
  BoundedQueue<int> q(2);
  long sum = 0;
  PipelineStages stages;
  stages.Add(
      [&] {
        for (int i = 1; i <= 100; ++i) q.Push(i);
        q.Close();
      },
      [&] { q.Cancel(); });
  stages.Add(
      [&] {
        while (std::optional<int> v = q.Pop()) sum += *v;
      },
      [&] { q.Cancel(); });
  stages.Join();
  EXPECT_EQ(sum, 5050);
}

}  // namespace
}  // namespace emkit
