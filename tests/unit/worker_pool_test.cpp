#include "http/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <memory>
#include <stdexcept>
#include <thread>

#include "cache/single_flight.h"

namespace imageflex {
namespace {

TEST(WorkerPoolTest, RefusesWhenTheQueueIsFull) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> ran{0};
  std::atomic<int> cleaned{0};
  {
    WorkerPool pool(1, 1, [&] { cleaned++; });
    auto blocker = [&] {
      released.wait();
      ran++;
    };
    ASSERT_TRUE(pool.try_submit(blocker));  // runs
    while (pool.running() == 0) std::this_thread::yield();
    ASSERT_TRUE(pool.try_submit(blocker));   // waits in the queue
    EXPECT_FALSE(pool.try_submit(blocker));  // queue full: refused at once
    release.set_value();
  }
  EXPECT_EQ(ran, 2);
  EXPECT_EQ(cleaned, 2);
}

// A result is seen only once its thread is free again and what the job held is released:
// a client that sends its next request the moment it has an answer never finds the pool full
// of a thread that was only cleaning up (the flaky 503 of
// AdmissionTest.ABurstOfHugeJobsGets503WhileASmallOneIsServed, with --queue 0).
TEST(WorkerPoolTest, AResultArrivesOnlyOnceItsThreadIsFree) {
  auto held = std::make_shared<int>(0);  // stands for the admission ticket a transform holds
  std::weak_ptr<int> watch = held;
  WorkerPool pool(1, 0, [] { std::this_thread::sleep_for(std::chrono::milliseconds(50)); });
  auto answer = pool.try_run([held = std::move(held)] { return 42; });
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->get(), 42);
  EXPECT_TRUE(watch.expired()) << "the job's captures are gone before its result is seen";
  EXPECT_EQ(pool.running(), 0u);
  auto next = pool.try_run([] { return 7; });
  ASSERT_TRUE(next.has_value()) << "the one thread is free for the next job";
  EXPECT_EQ(next->get(), 7);

  auto failed = pool.try_run([]() -> int { throw std::runtime_error("bad picture"); });
  ASSERT_TRUE(failed.has_value());
  EXPECT_THROW(failed->get(), std::runtime_error) << "what the job threw reaches the future";
}

TEST(SingleFlightTest, OneLeaderManyFollowers) {
  SingleFlight<int> flights;
  {
    auto leader = flights.join("k");
    auto follower = flights.join("k");
    auto other = flights.join("other");
    EXPECT_TRUE(leader.leader());
    EXPECT_FALSE(follower.leader());
    EXPECT_TRUE(other.leader());
    EXPECT_EQ(flights.in_flight(), 2u);
    leader.fulfil(42);
    EXPECT_EQ(follower.result().get(), 42);
  }
  EXPECT_EQ(flights.in_flight(), 0u) << "a leader's ticket ends its flight when it goes";
  EXPECT_TRUE(flights.join("k").leader()) << "a finished flight starts anew";
}

TEST(SingleFlightTest, ALeaderThatLeavesWithoutAnAnswerFailsItsWaiters) {
  SingleFlight<int> flights;
  auto follower = [&] {
    auto leader = flights.join("k");
    return flights.join("k");  // the leader's ticket goes out of scope unanswered
  }();
  EXPECT_FALSE(follower.leader());
  EXPECT_THROW(follower.result().get(), std::runtime_error);
  EXPECT_EQ(flights.in_flight(), 0u);
}

}  // namespace
}  // namespace imageflex
