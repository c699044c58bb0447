// A Storage that times every call of the one it wraps and counts the calls that fail,
// by operation, for /_imageflex/metrics: one decorator instead of timing code in each
// backend. Thread-safe as the wrapped store is; the counters are lock-free.
#pragma once

#include <array>
#include <atomic>

#include "common/metrics.h"
#include "storage/storage.h"

namespace imageflex {

class TimedStorage final : public Storage {
 public:
  enum class Operation { kStat, kGet, kPut, kRemove, kList };
  static constexpr std::array kOperations{Operation::kStat, Operation::kGet, Operation::kPut,
                                          Operation::kRemove, Operation::kList};
  static std::string_view operation_name(Operation operation);  // "stat", "get", ...

  explicit TimedStorage(Storage& inner) : inner_(inner) {}

  std::optional<ObjectInfo> stat(const std::string& key) override;
  GetResult get(const std::string& key, const GetOptions& options) override;
  // Timed and counted as a get when it answers; a call that finds nothing held is no request.
  std::optional<GetResult> get_held(const std::string& key, const GetOptions& options) override;
  void put(const std::string& key, std::string_view bytes, const PutOptions& options) override;
  void remove(const std::string& key) override;
  ListPage list(const std::string& prefix, const std::string& start_after, std::size_t max_keys) override;
  std::string describe() const override { return inner_.describe(); }
  std::vector<std::pair<std::string, std::uint64_t>> stats() const override { return inner_.stats(); }
  std::uint64_t bytes_read() const override { return inner_.bytes_read(); }

  // Body bytes put() has written since start.
  std::uint64_t bytes_written() const { return bytes_written_.load(std::memory_order_relaxed); }
  // Every request made to the store, whatever the operation: a hit inside the trust window
  // (--trust-version-ms) costs none.
  std::uint64_t requests() const;
  // Calls that threw (an unreachable or failing store), by operation.
  std::uint64_t errors(Operation operation) const;
  const Histogram& seconds(Operation operation) const { return timings_[index(operation)].seconds; }

 private:
  struct Timing {
    Histogram seconds{kStoreSecondsBounds};
    std::atomic<std::uint64_t> errors{0};
  };
  static std::size_t index(Operation operation) { return static_cast<std::size_t>(operation); }
  // Runs one call of the wrapped store, timed, counting it as an error if it throws.
  template <typename Call>
  auto timed(Operation operation, Call&& call) -> decltype(call());
  template <typename Call, typename Counted>
  auto timed_if(Operation operation, Call&& call, Counted counted) -> decltype(call());

  Storage& inner_;
  std::array<Timing, kOperations.size()> timings_;
  std::atomic<std::uint64_t> bytes_written_{0};
};

}  // namespace imageflex
