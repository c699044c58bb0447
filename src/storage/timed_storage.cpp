#include "storage/timed_storage.h"

#include <chrono>
#include <utility>

namespace imageflex {

std::string_view TimedStorage::operation_name(Operation operation) {
  switch (operation) {
    case Operation::kStat: return "stat";
    case Operation::kGet: return "get";
    case Operation::kPut: return "put";
    case Operation::kRemove: return "remove";
    case Operation::kList: return "list";
  }
  return "";
}

template <typename Call>
auto TimedStorage::timed(Operation operation, Call&& call) -> decltype(call()) {
  return timed_if(operation, std::forward<Call>(call), [](const auto&...) { return true; });
}

// The same, for a call whose result may say it was no request to the store: only one
// for which COUNTED(result) holds is timed (one that throws is counted, as a failure).
template <typename Call, typename Counted>
auto TimedStorage::timed_if(Operation operation, Call&& call, Counted counted) -> decltype(call()) {
  Timing& timing = timings_[index(operation)];
  const auto started = std::chrono::steady_clock::now();
  auto observe = [&] {
    timing.seconds.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  };
  try {
    if constexpr (std::is_void_v<decltype(call())>) {
      call();
      observe();
    } else {
      auto result = call();
      if (counted(result)) observe();
      return result;
    }
  } catch (...) {
    // A failed call is timed too: a store that fails slowly is what the latency shows.
    observe();
    timing.errors.fetch_add(1, std::memory_order_relaxed);
    throw;
  }
}

std::optional<ObjectInfo> TimedStorage::stat(const std::string& key) {
  return timed(Operation::kStat, [&] { return inner_.stat(key); });
}

GetResult TimedStorage::get(const std::string& key, const GetOptions& options) {
  return timed(Operation::kGet, [&] { return inner_.get(key, options); });
}

std::optional<GetResult> TimedStorage::get_held(const std::string& key, const GetOptions& options) {
  return timed_if(
      Operation::kGet, [&] { return inner_.get_held(key, options); },
      [](const std::optional<GetResult>& held) { return held.has_value(); });
}

void TimedStorage::put(const std::string& key, std::string_view bytes, const PutOptions& options) {
  timed(Operation::kPut, [&] { inner_.put(key, bytes, options); });
  bytes_written_.fetch_add(bytes.size(), std::memory_order_relaxed);
}

void TimedStorage::remove(const std::string& key) {
  timed(Operation::kRemove, [&] { inner_.remove(key); });
}

ListPage TimedStorage::list(const std::string& prefix, const std::string& start_after, std::size_t max_keys) {
  return timed(Operation::kList, [&] { return inner_.list(prefix, start_after, max_keys); });
}

std::uint64_t TimedStorage::requests() const {
  std::uint64_t total = 0;
  for (const auto& timing : timings_) total += timing.seconds.count();
  return total;
}

std::uint64_t TimedStorage::errors(Operation operation) const {
  return timings_[index(operation)].errors.load(std::memory_order_relaxed);
}

}  // namespace imageflex
