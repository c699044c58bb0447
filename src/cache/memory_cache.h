// A bounded in-memory LRU of encoded variants, so hot variants skip the store.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace imageflex {

// One encoded variant, as served: shared read-only between caches and responses.
struct CachedVariant {
  std::string bytes;
  std::string content_type;
  std::string etag;  // HTTP ETag, with quotes
  std::int64_t last_modified = 0;
};

class MemoryCache {
 public:
  explicit MemoryCache(std::uint64_t capacity_bytes) : capacity_(capacity_bytes) {}

  std::shared_ptr<const CachedVariant> get(const std::string& key);
  // Entries larger than an eighth of the capacity are not kept: one must not evict all.
  void put(const std::string& key, std::shared_ptr<const CachedVariant> value);
  std::uint64_t size_bytes() const;
  std::size_t entries() const;

 private:
  using Entry = std::pair<std::string, std::shared_ptr<const CachedVariant>>;
  const std::uint64_t capacity_;
  mutable std::mutex mutex_;
  std::list<Entry> order_;  // most recent first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  std::uint64_t bytes_ = 0;
};

}  // namespace imageflex
