// Single flight: concurrent requests for the same missing variant make it once.
// The first caller (the leader) gets the promise to fulfil; the others wait on the
// same shared future.
#pragma once

#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace imageflex {

template <typename T>
class SingleFlight {
 public:
  struct Ticket {
    std::shared_future<T> result;
    std::shared_ptr<std::promise<T>> promise;  // set only for the leader
    bool leader() const { return promise != nullptr; }
  };

  Ticket join(const std::string& key) {
    std::lock_guard lock(mutex_);
    if (auto found = flights_.find(key); found != flights_.end()) return {found->second, nullptr};
    auto promise = std::make_shared<std::promise<T>>();
    std::shared_future<T> result = promise->get_future().share();
    flights_.emplace(key, result);
    return {result, promise};
  }

  // The leader calls this after fulfilling its promise; later callers start anew.
  void finish(const std::string& key) {
    std::lock_guard lock(mutex_);
    flights_.erase(key);
  }

  std::size_t in_flight() const {
    std::lock_guard lock(mutex_);
    return flights_.size();
  }

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_future<T>> flights_;
};

}  // namespace imageflex
