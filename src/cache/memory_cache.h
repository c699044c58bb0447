// A bounded in-memory LRU of encoded variants, so hot variants skip the store.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "storage/storage.h"

namespace imageflex {

// One encoded variant, as served: shared read-only between caches and responses.
struct CachedVariant {
  std::string bytes;
  std::string content_type;
  std::string etag;  // HTTP ETag, with quotes
  std::int64_t last_modified = 0;
  // A store hit too large for the memory cache: its bytes stay in the store, streamed from
  // there to the client (bytes is empty). Never put in the memory cache.
  std::shared_ptr<const OpenObject> in_store;
};

// What an entry holds in memory, not only its variant's bytes: each buffer as the allocator
// rounds it (jemalloc's size classes, whole pages above 16 KiB: up to a quarter more), the
// key twice (the order and the index), and the nodes and control block around them. Counting
// the bytes alone, a cache of 64 MiB held 87 MiB once small variants had replaced large ones
// (BENCHMARKS.md, "The soak, settled").
std::uint64_t entry_cost(const std::string& key, const CachedVariant& variant);

class MemoryCache {
 public:
  explicit MemoryCache(std::uint64_t capacity_bytes) : capacity_(capacity_bytes) {}

  std::shared_ptr<const CachedVariant> get(const std::string& key);
  // Variants larger than an eighth of the capacity are not kept: one must not evict all.
  // Nor are variants left in the store (in_store). What is kept is charged its entry_cost.
  void put(const std::string& key, std::shared_ptr<const CachedVariant> value);
  // The memory the entries hold (entry_cost), which the capacity bounds.
  std::uint64_t size_bytes() const;
  std::size_t entries() const;
  // The largest variant put() would keep, in bytes (0 when the cache is off): the handler
  // reads a store hit up to this size into memory, and streams a larger one from the store.
  std::uint64_t largest_entry() const { return capacity_ / 8; }

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<const CachedVariant> value;
    std::uint64_t cost;
  };
  const std::uint64_t capacity_;
  mutable std::mutex mutex_;
  std::list<Entry> order_;  // most recent first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  std::uint64_t bytes_ = 0;
};

}  // namespace imageflex
