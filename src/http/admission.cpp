#include "http/admission.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "common/error.h"

namespace imageflex {
namespace {

std::string read_file(const char* path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string mib(std::uint64_t bytes) {
  return std::to_string(bytes >> 20) + " MiB";
}

}  // namespace

Admission::Admission(std::uint64_t budget_bytes, std::size_t max_waiting)
    : budget_(budget_bytes), max_waiting_(max_waiting) {}

std::shared_ptr<Admission::Ticket> Admission::admit(std::uint64_t estimate_bytes,
                                                    Clock::time_point deadline) {
  if (estimate_bytes > budget_) {
    throw Error(ErrorKind::kTooLarge, "image would need about " + mib(estimate_bytes) +
                                          " of memory to make, more than the budget of " + mib(budget_));
  }
  std::unique_lock lock(mutex_);
  const auto fits = [&] { return admitted_ + estimate_bytes <= budget_; };
  if (!fits()) {
    if (waiting_ >= max_waiting_)
      throw Error(ErrorKind::kOverloaded, "too many images being made; retry shortly");
    ++waiting_;
    const bool admitted = room_.wait_until(lock, deadline, fits);
    --waiting_;
    if (!admitted) throw Error(ErrorKind::kOverloaded, "too many images being made; retry shortly");
  }
  admitted_ += estimate_bytes;
  return std::make_shared<Ticket>(*this, estimate_bytes);
}

void Admission::release(std::uint64_t bytes) {
  {
    std::lock_guard lock(mutex_);
    admitted_ -= bytes;
  }
  // Any waiter may fit now, a small one even when a large one does not.
  room_.notify_all();
}

std::uint64_t Admission::admitted_bytes() const {
  std::lock_guard lock(mutex_);
  return admitted_;
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

std::uint64_t default_memory_budget(std::uint64_t memory_cache_bytes) {
  std::uint64_t memory = parse_memory_max(read_file("/sys/fs/cgroup/memory.max"));
  if (memory == 0) memory = parse_mem_total(read_file("/proc/meminfo"));
  if (memory == 0) memory = 1ull << 30;  // neither readable: assume a small machine
  const std::uint64_t half = memory / 2;
  const std::uint64_t floor = 64ull << 20;
  return half > memory_cache_bytes + floor ? half - memory_cache_bytes : floor;
}

}  // namespace imageflex
