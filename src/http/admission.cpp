#include "http/admission.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <utility>

#include "common/error.h"
#include "common/thread_name.h"

namespace imageflex {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string mib(std::uint64_t bytes) {
  return std::to_string(bytes >> 20) + " MiB";
}

}  // namespace

Admission::Admission(std::uint64_t budget_bytes, std::size_t max_waiting, Gauges gauges)
    : budget_(budget_bytes), max_waiting_(max_waiting), gauges_(std::move(gauges)) {
  if (gauges_.resident && gauges_.release_free_memory)
    watch_ = std::jthread([this](const std::stop_token& stop) {
      name_this_thread("if-admission");
      watch_resident(stop);
    });
}

namespace {

std::uint64_t read_gauge(const std::function<std::uint64_t()>& gauge) {
  return gauge ? gauge() : 0;
}

// How often a job held back by resident memory alone looks again: releases notify, but
// memory handed back to the kernel does not.
constexpr auto kResidentPoll = std::chrono::milliseconds(20);
// A purge walks every arena: at most this often, however many jobs wait.
constexpr auto kReleaseInterval = std::chrono::milliseconds(100);
// How often the watch reads resident memory while jobs run (a read of /proc/self/statm).
constexpr auto kWatchInterval = std::chrono::milliseconds(50);
// After the last job ends, the watch waits this long for another before handing freed memory
// back: under steady misses the next job reuses the pages, and after a burst RSS falls within
// a second or so.
constexpr auto kQuietBeforeHandBack = std::chrono::seconds(1);
// While jobs keep running, the freed memory the allocator keeps is weighed this often against
// what they were admitted for, and what is over goes back: the next jobs fault their working
// set in again once per interval at most, not once per miss.
constexpr auto kBusyHandBack = std::chrono::seconds(5);
// What a job really leaves kept is more than its estimate: one-at-a-time JPEG misses admitted
// for 29 MB each left 34-36 MB kept after a quiet spell's hand-back (jemalloc's size classes
// and libvips' buffers), and handing that back made the next misses fault it in again. So
// kept memory counts as needed up to half as much again as the jobs were admitted for.
constexpr std::uint64_t most_kept_for(std::uint64_t admitted) {
  return admitted + admitted / 2;
}

}  // namespace

std::uint64_t Admission::reserved_bytes() const {
  return read_gauge(gauges_.reserved);
}

bool Admission::fits(std::uint64_t estimate_bytes) const {
  if (reserved_bytes() + admitted_ + estimate_bytes > budget_) return false;
  return admitted_ == 0 || read_gauge(gauges_.resident) + estimate_bytes <= budget_;
}

std::shared_ptr<Admission::Ticket> Admission::admit(std::uint64_t estimate_bytes,
                                                    Clock::time_point deadline) {
  const std::uint64_t reserved = reserved_bytes();
  const std::uint64_t room = budget_ > reserved ? budget_ - reserved : 0;
  if (estimate_bytes > room) {
    throw Error(ErrorKind::kTooLarge, "image would need about " + mib(estimate_bytes) +
                                          " of memory to make, more than the budget leaves (" + mib(room) +
                                          ")");
  }
  std::unique_lock lock(mutex_);
  if (!fits(estimate_bytes)) {
    if (waiting_ >= max_waiting_)
      throw Error(ErrorKind::kOverloaded, "too many images being made; retry shortly");
    ++waiting_;
    bool admitted = false;
    while (!admitted && Clock::now() < deadline) {
      // Estimates over the budget wait for a release; resident memory over it may fall
      // without one (a hand-back to the kernel), so look again every poll.
      room_.wait_until(lock, std::min(deadline, Clock::now() + kResidentPoll));
      admitted = fits(estimate_bytes);
      if (!admitted && gauges_.release_free_memory && Clock::now() - last_release_ >= kReleaseInterval &&
          reserved_bytes() + admitted_ + estimate_bytes <= budget_) {
        gauges_.release_free_memory();  // only resident memory is in the way: ask for it back
        last_release_ = Clock::now();
        admitted = fits(estimate_bytes);
      }
    }
    --waiting_;
    if (!admitted) throw Error(ErrorKind::kOverloaded, "too many images being made; retry shortly");
  }
  admitted_ += estimate_bytes;
  peak_admitted_ = std::max(peak_admitted_, admitted_);
  ++admissions_;
  // Only a watch asleep since its last hand-back needs waking: a busy one polls on its own. A
  // notify on every admission cost a wake-up of the watch and a futex call per miss.
  if (watch_asleep_) admitted_some_.notify_one();
  return std::make_shared<Ticket>(*this, estimate_bytes);
}

void Admission::watch_resident(const std::stop_token& stop) {
  const std::uint64_t purge_above = budget_ / 8 * 7;
  auto hand_back = [this](std::unique_lock<std::mutex>& lock) {
    lock.unlock();
    gauges_.release_free_memory();
    lock.lock();
    ++purges_;
  };
  std::unique_lock lock(mutex_);
  std::uint64_t seen = admissions_;
  auto handed_back = Clock::now();
  bool owed = false;  // jobs ran since the last hand-back: their freed pages are still kept
  while (!stop.stop_requested()) {
    const bool busy = admitted_ > 0 || admissions_ != seen;
    seen = admissions_;
    if (busy) {
      // While jobs run: freed memory is kept for the next job, and handed back near the budget,
      // and every kBusyHandBack when the allocator keeps over one and a half times what the
      // busiest moment of that interval was admitted for, so that what the jobs' mix of sizes
      // leaves unused cannot pile up while misses never stop. A hand-back every interval
      // regardless cost a steady stream of one-at-a-time JPEG misses 30-45 page faults each
      // instead of 10-15 (BENCHMARKS.md).
      if (!owed) {
        handed_back = Clock::now();
        peak_admitted_ = admitted_;
      }
      owed = true;
      const bool due = Clock::now() - handed_back >= kBusyHandBack;
      const std::uint64_t needed = peak_admitted_;
      lock.unlock();
      const bool near_budget = read_gauge(gauges_.resident) > purge_above;
      const bool over_need = due && (!gauges_.kept || gauges_.kept() > most_kept_for(needed));
      lock.lock();
      if (near_budget || over_need) hand_back(lock);
      if (near_budget || due) {
        handed_back = Clock::now();
        peak_admitted_ = admitted_;
      }
    } else if (owed && Clock::now() - last_ended_ >= kQuietBeforeHandBack) {
      // No job has run for kQuietBeforeHandBack: what they freed goes back to the kernel (the
      // allocator keeps it otherwise: allocator.cpp).
      hand_back(lock);
      owed = false;
    }
    if (owed) {
      admitted_some_.wait_for(lock, stop, kWatchInterval, [] { return false; });
    } else {
      // Nothing to watch or hand back: asleep until the next job is admitted.
      watch_asleep_ = true;
      admitted_some_.wait(lock, stop, [&] { return admissions_ != seen; });
      watch_asleep_ = false;
    }
  }
}

void Admission::release(std::uint64_t bytes) {
  {
    std::lock_guard lock(mutex_);
    admitted_ -= bytes;
    if (admitted_ == 0) last_ended_ = Clock::now();  // a quiet spell starts
  }
  // Any waiter may fit now, a small one even when a large one does not.
  room_.notify_all();
}

std::uint64_t Admission::admitted_bytes() const {
  std::lock_guard lock(mutex_);
  return admitted_;
}

std::uint64_t Admission::purges() const {
  std::lock_guard lock(mutex_);
  return purges_;
}

std::size_t Admission::waiting() const {
  std::lock_guard lock(mutex_);
  return waiting_;
}

std::uint64_t parse_memory_max(const std::string& text) {
  try {
    if (text.empty() || text[0] < '0' || text[0] > '9') return 0;  // "max": no limit
    return std::stoull(text);
  } catch (const std::exception&) {
    return 0;
  }
}

std::uint64_t parse_mem_total(const std::string& meminfo) {
  std::istringstream lines(meminfo);
  std::string name;
  std::uint64_t kib = 0;
  while (lines >> name >> kib) {
    if (name == "MemTotal:") return kib << 10;
    lines.ignore(256, '\n');
  }
  return 0;
}

std::uint64_t cgroup_memory_limit(const std::string& proc_self_cgroup,
                                  const std::function<std::string(const std::string& path)>& read) {
  std::istringstream lines(proc_self_cgroup);
  std::string path;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("0::/", 0) == 0) path = line.substr(3);
  }
  if (path.empty()) return 0;  // no cgroup v2 (a v1 or hybrid host without it)
  std::uint64_t limit = 0;
  // A parent's limit binds its children too (a slice's MemoryMax= over the service's).
  for (;;) {
    const std::uint64_t here =
        parse_memory_max(read("/sys/fs/cgroup" + (path == "/" ? "" : path) + "/memory.max"));
    if (here != 0 && (limit == 0 || here < limit)) limit = here;
    if (path == "/") return limit;
    const auto slash = path.rfind('/');
    path = slash == 0 ? "/" : path.substr(0, slash);
  }
}

std::uint64_t default_memory_budget(std::uint64_t memory_cache_bytes) {
  std::uint64_t memory = cgroup_memory_limit(read_file("/proc/self/cgroup"), read_file);
  if (memory == 0) memory = parse_mem_total(read_file("/proc/meminfo"));
  if (memory == 0) memory = 1ull << 30;  // neither readable: assume a small machine
  const std::uint64_t half = memory / 2;
  return std::max<std::uint64_t>(half, memory_cache_bytes + (128ull << 20));
}

}  // namespace imageflex
