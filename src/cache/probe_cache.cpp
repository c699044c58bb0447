#include "cache/probe_cache.h"

namespace imageflex {
namespace {

// A NUL cannot occur in a key or an ETag, so the pair maps to one string without clashes.
std::string cache_key(const std::string& key, const std::string& etag) {
  return key + '\0' + etag;
}

}  // namespace

std::optional<ProbeCache::Entry> ProbeCache::get(const std::string& key, const std::string& etag) {
  std::lock_guard lock(mutex_);
  auto found = index_.find(cache_key(key, etag));
  if (found == index_.end()) return std::nullopt;
  order_.splice(order_.begin(), order_, found->second);
  return found->second->second;
}

void ProbeCache::put(const std::string& key, const std::string& etag, const Entry& entry) {
  if (capacity_ == 0) return;
  std::lock_guard lock(mutex_);
  std::string name = cache_key(key, etag);
  if (auto found = index_.find(name); found != index_.end()) {
    found->second->second = entry;
    order_.splice(order_.begin(), order_, found->second);
    return;
  }
  order_.emplace_front(name, entry);
  index_.emplace(std::move(name), order_.begin());
  if (order_.size() > capacity_) {
    index_.erase(order_.back().first);
    order_.pop_back();
  }
}

}  // namespace imageflex
