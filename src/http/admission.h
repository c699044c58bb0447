// Admission by cost: a transform starts only while the process's memory, counted as what it
// holds outside transforms plus the estimates of the transforms admitted so far, its own
// included, stays within a budget — and while the memory actually resident leaves room for
// its estimate. A burst of huge images waits or is refused before memory grows, while small
// ones still fit beside.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>

namespace imageflex {

class Admission {
 public:
  using Clock = std::chrono::steady_clock;

  // What the gate reads of the process. Empty functions count as 0 (the unit tests' plain budget).
  struct Gauges {
    // Memory held outside transforms that the budget must leave room for: the process's
    // resident memory at start (code, libvips, buffers) plus the memory cache's bytes now.
    std::function<std::uint64_t()> reserved;
    // The process's resident memory now: a job also waits while this plus its estimate is over
    // the budget, which catches what estimates miss (allocator slack, buffers, freed pages kept).
    std::function<std::uint64_t()> resident;
    // Asked to hand freed memory back when resident memory alone keeps a job waiting, and by
    // the watch below (near the budget, every five seconds while jobs run and `kept` is over
    // one and a half times what they were admitted for, once they end).
    std::function<void()> release_free_memory;
    // The freed memory the allocator keeps for reuse; absent: taken as always over.
    std::function<std::uint64_t()> kept;
  };

  // `max_waiting`: transforms that may wait for room at once (the transform queue's bound).
  Admission(std::uint64_t budget_bytes, std::size_t max_waiting, Gauges gauges = {});

  // Holds its estimate admitted until destroyed: the job owns it until libvips is done.
  class Ticket {
   public:
    Ticket(Admission& admission, std::uint64_t bytes) : admission_(admission), bytes_(bytes) {}
    ~Ticket() { admission_.release(bytes_); }
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;

   private:
    Admission& admission_;
    std::uint64_t bytes_;
  };

  // Waits until the estimate fits, at most until `deadline`. Throws Error: kTooLarge
  // when the estimate alone is over the budget less the reserved memory (it would never fit),
  // kOverloaded when max_waiting others already wait or the deadline passes first (503,
  // Retry-After). The resident check applies only while other jobs run, so memory the
  // process keeps after all jobs end can never block the next one for good.
  std::shared_ptr<Ticket> admit(std::uint64_t estimate_bytes, Clock::time_point deadline);

  std::uint64_t budget_bytes() const { return budget_; }
  // What the budget sets aside before any job (the reserved gauge: resident memory at start
  // and the memory caches); a job's estimate over the budget less this is refused with 413.
  std::uint64_t reserved_bytes() const;
  std::uint64_t admitted_bytes() const;
  std::size_t waiting() const;
  // Times the watch handed freed memory back: resident memory neared the budget, five seconds
  // of jobs left more kept than they needed, or transforms went quiet.
  std::uint64_t purges() const;

 private:
  void release(std::uint64_t bytes);
  bool fits(std::uint64_t estimate_bytes) const;  // with mutex_ held
  // While any job is admitted, reads resident memory every kWatchInterval and hands freed
  // memory back once it passes 7/8 of the budget, and every five seconds when the allocator
  // keeps more freed memory than the most admitted at once in those five seconds; once the
  // last job has ended and no other has started for a second, hands it all back, then sleeps
  // until the next admission. The allocator keeps the
  // pages a finished job freed for the next one (allocator.cpp): that saves the page faults of a miss, but
  // under a tight budget those pages, not the jobs, could push resident memory over it (BENCHMARKS.md,
  // "Shield"), and after a burst they would stay. Admission alone cannot see that: no job
  // starts or ends while the peak builds.
  void watch_resident(const std::stop_token& stop);

  const std::uint64_t budget_;
  const std::size_t max_waiting_;
  const Gauges gauges_;
  mutable std::mutex mutex_;
  std::condition_variable room_;
  std::uint64_t admitted_ = 0;
  std::size_t waiting_ = 0;
  Clock::time_point last_release_{};
  std::uint64_t purges_ = 0;
  std::uint64_t peak_admitted_ = 0;            // the most admitted at once since the watch last weighed
  std::uint64_t admissions_ = 0;               // jobs admitted so far: the watch sees a job it slept through
  Clock::time_point last_ended_{};             // when the last running job ended
  bool watch_asleep_ = false;                  // the watch waits for an admission, not polling
  std::condition_variable_any admitted_some_;  // wakes a sleeping watch when a job is admitted
  std::jthread watch_;                         // last: stopped and joined before the members it reads go
};

// The budget when none is set: half the memory the process may use (its cgroup's memory
// limit, else MemTotal from /proc/meminfo), at least the memory cache plus 128 MiB.
std::uint64_t default_memory_budget(std::uint64_t memory_cache_bytes);

// The smallest cgroup v2 memory.max over the process's cgroup and its parents, from
// /proc/self/cgroup's "0::PATH" line; 0 when none is set. A systemd service sees the whole
// tree (its MemoryMax= is /sys/fs/cgroup/system.slice/NAME.service/memory.max), a container
// with its own cgroup namespace sees "0::/" and its limit at /sys/fs/cgroup/memory.max.
// `read` returns a file's text ("" when absent). Split out to be tested.
std::uint64_t cgroup_memory_limit(const std::string& proc_self_cgroup,
                                  const std::function<std::string(const std::string& path)>& read);

// The limit in a cgroup v2 memory.max text ("max" or bytes), or in /proc/meminfo's
// MemTotal line (kB); 0 when the text holds none. Split out to be tested.
std::uint64_t parse_memory_max(const std::string& text);
std::uint64_t parse_mem_total(const std::string& meminfo);

}  // namespace imageflex
