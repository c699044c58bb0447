// Admission by cost: a transform starts only while the memory estimates of the
// transforms admitted so far, its own included, stay within a budget. A burst of huge
// images waits or is refused before memory grows, while small ones still fit beside.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace imageflex {

class Admission {
 public:
  using Clock = std::chrono::steady_clock;

  // `max_waiting`: transforms that may wait for room at once (the transform queue's bound).
  Admission(std::uint64_t budget_bytes, std::size_t max_waiting);

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
  // when the estimate alone is over the budget (it would never fit), kOverloaded when
  // max_waiting others already wait or the deadline passes first (503, Retry-After).
  std::shared_ptr<Ticket> admit(std::uint64_t estimate_bytes, Clock::time_point deadline);

  std::uint64_t budget_bytes() const { return budget_; }
  std::uint64_t admitted_bytes() const;
  std::size_t waiting() const;

 private:
  void release(std::uint64_t bytes);

  const std::uint64_t budget_;
  const std::size_t max_waiting_;
  mutable std::mutex mutex_;
  std::condition_variable room_;
  std::uint64_t admitted_ = 0;
  std::size_t waiting_ = 0;
};

// The budget when none is set: half the memory the process may use (the cgroup's
// memory.max, else MemTotal from /proc/meminfo), less the memory cache, at least 64 MiB.
std::uint64_t default_memory_budget(std::uint64_t memory_cache_bytes);

// The limit in a cgroup v2 memory.max text ("max" or bytes), or in /proc/meminfo's
// MemTotal line (kB); 0 when the text holds none. Split out to be tested.
std::uint64_t parse_memory_max(const std::string& text);
std::uint64_t parse_mem_total(const std::string& meminfo);

}  // namespace imageflex
