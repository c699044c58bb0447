// An in-memory Storage for unit tests. It keeps the whole contract of
// storage/storage.h (the storage contract suite runs on it as on the real backends,
// which proves it honest) and is safe to call from many threads at once.
//
// On top of the contract, a test can script the store, to build failures and races
// deterministically: count the calls of each operation, make the next N calls of one
// throw Error(kStoreUnavailable), or run a hook before every call that may block it
// (see Gate), throw, or change the store between two calls of the code under test.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "eventually.h"
#include "storage/storage.h"

namespace imageflex::test {

enum class StoreOp { kStat, kGet, kPut, kRemove };

// One stored object with everything put() was given, for tests to inspect.
struct StoredObject {
  ObjectInfo info;
  std::string bytes;
  std::string cache_control;
};

class MemoryStorage : public Storage {
 public:
  // Runs before each operation, on the caller's thread and outside the store's lock,
  // so it may block, throw, or change the store. Store calls the hook makes itself
  // are neither hooked nor counted, so a hook can replace an object without recursion.
  using Hook = std::function<void(StoreOp op, const std::string& key)>;

  std::optional<ObjectInfo> stat(const std::string& key) override;
  GetResult get(const std::string& key, const GetOptions& options) override;
  void put(const std::string& key, std::string_view bytes, const PutOptions& options) override;
  void remove(const std::string& key) override;
  ListPage list(const std::string& prefix, const std::string& start_after, std::size_t max_keys) override;
  std::string describe() const override { return "memory:"; }

  // ---- test hooks (each call runs: count, hook, injected failure, the operation) ----
  void set_hook(Hook hook);
  // The next `times` calls of `op` throw Error(ErrorKind::kStoreUnavailable).
  void fail_next(StoreOp op, int times);
  int calls(StoreOp op) const;
  int calls(StoreOp op, const std::string& key) const;
  std::uint64_t bytes_read() const override;  // body bytes get() has handed out in total

  // Inspection that is neither hooked nor counted.
  std::vector<std::string> keys() const;
  std::optional<StoredObject> peek(const std::string& key) const;

 private:
  // Counts the call, runs the hook, then throws if a failure is due. Does nothing
  // for a call made from inside a hook.
  void before(StoreOp op, const std::string& key);

  mutable std::mutex mutex_;
  std::map<std::string, StoredObject> objects_;
  std::uint64_t next_version_ = 1;
  Hook hook_;
  std::map<StoreOp, int> failures_;
  std::map<std::pair<StoreOp, std::string>, int> calls_;
  std::uint64_t bytes_read_ = 0;
};

// Holds the threads that pass() it until the test opens it, so a test can stop the
// code under test at a chosen store call, look, and then let it go on. Waits are
// bounded (kMaxWait), so a failing test reports instead of hanging.
class Gate {
 public:
  static constexpr std::chrono::seconds kMaxWait{20};

  void pass();  // counts the arrival, then waits until open() (or kMaxWait)
  void open();
  int arrivals() const;
  // True once `count` threads have arrived; false after `timeout`.
  bool wait_for_arrivals(int count, std::chrono::milliseconds timeout) const;

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  int arrivals_ = 0;
  bool open_ = false;
};

}  // namespace imageflex::test
