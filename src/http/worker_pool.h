// A fixed set of threads with a bounded queue. When the queue is full, submit
// refuses at once, so overload becomes a quick 503 instead of a growing backlog.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
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

  // False when the queue is full: the job was not taken.
  bool try_submit(std::function<void()> job);

  std::size_t queued() const;
  std::size_t running() const;

 private:
  void run();

  const std::size_t max_queued_;
  std::function<void()> after_each_job_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> queue_;
  std::size_t running_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace imageflex
