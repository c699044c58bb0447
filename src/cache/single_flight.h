// Single flight: concurrent requests for the same missing variant make it once.
// The first caller (the leader) gets a ticket to fulfil; the others wait on the
// same shared future. The leader's ticket ends the flight when it is destroyed, so a
// flight can never be left open, whatever the leader throws.
#pragma once

#include <exception>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>

namespace imageflex {

template <typename T>
class SingleFlight {
 public:
  class Ticket {
   public:
    Ticket(Ticket&& other) noexcept
        : flights_(std::exchange(other.flights_, nullptr)),
          key_(std::move(other.key_)),
          promise_(std::move(other.promise_)),
          result_(std::move(other.result_)),
          settled_(other.settled_) {}
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    Ticket& operator=(Ticket&&) = delete;

    ~Ticket() {
      if (!leader()) return;
      // Waiters must never wait forever on a leader that left without an answer.
      if (!settled_) promise_.set_exception(std::make_exception_ptr(std::runtime_error("flight abandoned")));
      flights_->finish(key_);
    }

    bool leader() const { return flights_ != nullptr; }
    // The flight's outcome; get() rethrows the leader's error, if any.
    const std::shared_future<T>& result() const { return result_; }

    // The leader's answer, seen by every waiter.
    void fulfil(T value) {
      promise_.set_value(std::move(value));
      settled_ = true;
    }
    void fail(std::exception_ptr error) {
      promise_.set_exception(std::move(error));
      settled_ = true;
    }

   private:
    friend class SingleFlight;
    Ticket(SingleFlight* flights, std::string key, std::promise<T> promise, std::shared_future<T> result)
        : flights_(flights), key_(std::move(key)), promise_(std::move(promise)), result_(std::move(result)) {}

    SingleFlight* flights_;  // set only for the leader
    std::string key_;
    std::promise<T> promise_;
    std::shared_future<T> result_;
    bool settled_ = false;
  };

  Ticket join(const std::string& key) {
    std::lock_guard lock(mutex_);
    if (auto found = flights_.find(key); found != flights_.end()) return {nullptr, key, {}, found->second};
    std::promise<T> promise;
    std::shared_future<T> result = promise.get_future().share();
    flights_.emplace(key, result);
    return {this, key, std::move(promise), result};
  }

  std::size_t in_flight() const {
    std::lock_guard lock(mutex_);
    return flights_.size();
  }

 private:
  // Later callers start a new flight.
  void finish(const std::string& key) {
    std::lock_guard lock(mutex_);
    flights_.erase(key);
  }

  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_future<T>> flights_;
};

}  // namespace imageflex
