// A bounded LRU of probe results, keyed by the original's key and version: naming a
// variant needs the original's header (request/normalise.h), and a hit or a repeat
// should not read and parse it again.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "image/source.h"

namespace imageflex {

// Thread-safe.
class ProbeCache {
 public:
  explicit ProbeCache(std::size_t capacity_entries) : capacity_(capacity_entries) {}

  // The source, with the whole original's size in bytes, as a probe found it.
  struct Entry {
    SourceInfo source;
    std::uint64_t size = 0;
  };

  std::optional<Entry> get(const std::string& key, const std::string& etag);
  void put(const std::string& key, const std::string& etag, const Entry& entry);

 private:
  using Item = std::pair<std::string, Entry>;
  const std::size_t capacity_;
  std::mutex mutex_;
  std::list<Item> order_;  // most recent first
  std::unordered_map<std::string, std::list<Item>::iterator> index_;
};

}  // namespace imageflex
