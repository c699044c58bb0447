#include "http/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>

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
