#include "http/worker_pool.h"

#include "common/thread_name.h"

namespace imageflex {

WorkerPool::WorkerPool(int threads, std::size_t max_queued, std::function<void()> after_each_job,
                       const char* name)
    : max_queued_(max_queued), after_each_job_(std::move(after_each_job)) {
  for (int i = 0; i < threads; ++i) {
    threads_.emplace_back([this, name] {
      name_this_thread(name);
      run();
    });
  }
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_all();
  for (auto& thread : threads_) thread.join();
}

bool WorkerPool::try_submit(std::function<void()> job, std::function<void()> deliver) {
  {
    std::lock_guard lock(mutex_);
    // A job waits only if every thread is busy; the queue bound counts waiting jobs.
    std::size_t idle = threads_.size() - running_;
    if (queue_.size() >= max_queued_ + idle) return false;
    queue_.push_back({std::move(job), std::move(deliver)});
  }
  ready_.notify_one();
  return true;
}

std::size_t WorkerPool::queued() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

std::size_t WorkerPool::running() const {
  std::lock_guard lock(mutex_);
  return running_;
}

void WorkerPool::run() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      ++running_;
    }
    job.work();  // jobs catch their own exceptions; see the callers
    if (after_each_job_) after_each_job_();
    job.work = nullptr;  // what it held (an admission ticket) is released before the delivery too
    {
      std::lock_guard lock(mutex_);
      --running_;
    }
    if (job.deliver) job.deliver();
  }
}

}  // namespace imageflex
