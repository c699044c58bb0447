// A fixed set of threads with a bounded queue. When the queue is full, submit
// refuses at once, so overload becomes a quick 503 instead of a growing backlog.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace imageflex {

class WorkerPool {
 public:
  // `after_each_job` runs on the worker after every job (libvips clean-up for transforms).
  // The threads are named `name` (at most 15 characters: "if-handler").
  WorkerPool(int threads, std::size_t max_queued, std::function<void()> after_each_job = {},
             const char* name = "if-pool");
  ~WorkerPool();  // finishes queued jobs, then joins
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // False when the queue is full: the job was not taken. `deliver`, when given, runs on the
  // same thread after the job and its clean-up, once the thread counts as free again: whoever
  // the delivery wakes may submit at once and find the thread it left. (Delivering from inside
  // the job let a client that sent its next request the moment it had its answer be refused
  // for a thread that was only finishing up: a flaky 503 with --queue 0.)
  bool try_submit(std::function<void()> job, std::function<void()> deliver = {});

  // Runs `work` on a pool thread; its result, or what it threw, reaches the future by way of
  // `deliver` above. Empty when the queue is full.
  template <typename Work>
  auto try_run(Work work) -> std::optional<std::future<std::invoke_result_t<Work&>>> {
    using Result = std::invoke_result_t<Work&>;
    struct Outcome {
      std::promise<Result> promise;
      std::optional<Result> value;
      std::exception_ptr error;
    };
    auto outcome = std::make_shared<Outcome>();
    auto future = outcome->promise.get_future();
    const bool taken = try_submit(
        [outcome, work = std::move(work)]() mutable {
          try {
            outcome->value.emplace(work());
          } catch (...) {
            outcome->error = std::current_exception();
          }
        },
        [outcome] {
          if (outcome->error) {
            outcome->promise.set_exception(outcome->error);
          } else {
            outcome->promise.set_value(std::move(*outcome->value));
          }
        });
    if (!taken) return std::nullopt;
    return future;
  }

  std::size_t queued() const;
  std::size_t running() const;

 private:
  void run();

  const std::size_t max_queued_;
  std::function<void()> after_each_job_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  struct Job {
    std::function<void()> work;
    std::function<void()> deliver;
  };
  std::deque<Job> queue_;
  std::size_t running_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace imageflex
