// Originals' versions learnt from the store, trusted for a short window: a hit inside
// it needs no stat (a HEAD on S3) of the original. Per node, bounded, thread-safe.
//
// The trade-off: an original replaced in the store may still be served as the variants
// of its old version for up to the window on a node that learnt the old one. A read
// that finds another version (If-Match fails) drops the entry at once.
#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "storage/storage.h"

namespace imageflex {

class TrustedVersions {
 public:
  using Clock = std::chrono::steady_clock;

  // `window` zero: nothing is ever trusted (every hit asks the store).
  TrustedVersions(std::chrono::milliseconds window, std::size_t capacity_entries)
      : window_(window), capacity_(capacity_entries) {}

  // The version learnt within the window before `now`, if any.
  std::optional<ObjectInfo> get(const std::string& key, Clock::time_point now);
  // What the store just said the original is (a stat, or a read of it).
  void learn(const std::string& key, const ObjectInfo& info, Clock::time_point now);
  // The store said otherwise (gone, or another version): ask it again next time.
  void forget(const std::string& key);

 private:
  struct Item {
    std::string key;
    ObjectInfo info;
    Clock::time_point learnt;
  };
  const std::chrono::milliseconds window_;
  const std::size_t capacity_;
  std::mutex mutex_;
  std::list<Item> order_;  // most recently learnt first
  std::unordered_map<std::string, std::list<Item>::iterator> index_;
};

}  // namespace imageflex
