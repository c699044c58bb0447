// The engine: identical concurrent misses are made once (single flight).
#include <chrono>
#include <thread>

#include "integration.h"

namespace imageflex::test {
namespace {

class EngineTest : public ServiceTest {};
IMAGEFLEX_ON_EVERY_BACKEND(EngineTest);

TEST_P(EngineTest, FiftyConcurrentColdRequestsAreMadeOnce) {
  auto responses = concurrent_get(service().server().url("/landscape.jpg?w=333&f=avif"), 50);
  ASSERT_EQ(responses.size(), 50u);
  for (const auto& r : responses) {
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, responses.front().body);
  }
  expect_image(responses.front(), "heifload", 333, 250);
  EXPECT_EQ(service().stat("transforms"), 1) << "50 identical cold requests, one transform";
  EXPECT_EQ(service().stat("coalesced") + service().stat("memory_hits") + service().stat("store_hits"), 49);
}

TEST_P(EngineTest, DistinctVariantsRunInParallelAndAllComplete) {
  std::vector<std::thread> threads;
  std::vector<long> statuses(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      HttpClient client;
      statuses[i] =
          client.get(service().server().url("/landscape.jpg?f=webp&w=" + std::to_string(100 + i))).status;
    });
  }
  for (auto& t : threads) t.join();
  for (long s : statuses) EXPECT_EQ(s, 200);
  EXPECT_EQ(service().stat("transforms"), 8);
}

TEST_P(EngineTest, SigtermLetsRequestsInProgressFinish) {
  service().put_original("heavy.jpg", make_heavy_jpeg(1200));
  HttpResponse response;
  std::thread client([&] {
    HttpClient http;
    try {
      response = http.get(service().server().url("/heavy.jpg?f=avif&q=42"));
    } catch (const std::exception& error) {
      response.body = error.what();  // status stays 0: the connection was dropped
    }
  });
  // Bounded: a job that never shows as running fails the test instead of hanging it.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  bool running = false;
  while (!(running = service().stat("running") > 0) && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  service().server().terminate();
  client.join();
  ASSERT_TRUE(running) << "the request was not running within 20 s, so SIGTERM did not meet it in progress";
  EXPECT_EQ(response.status, 200) << "the response in progress is still sent";
  EXPECT_EQ(decode(response.body).loader, "heifload");
  EXPECT_TRUE(service().server().exited_within(5)) << "and then the process exits";
}

}  // namespace
}  // namespace imageflex::test
