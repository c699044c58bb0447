// Waiting in tests for what happens in the background (a sweep, an eviction, a file let go),
// without a fixed sleep that is too short on a loaded machine and too long on an idle one.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace imageflex::test {

// Polls `condition` every 10 ms until it holds or `timeout` passes; returns whether it held.
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)) {
  const auto give_up = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace imageflex::test
