#include "cache/memory_cache.h"

namespace imageflex {

std::shared_ptr<const CachedVariant> MemoryCache::get(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto found = index_.find(key);
  if (found == index_.end()) return nullptr;
  order_.splice(order_.begin(), order_, found->second);
  return found->second->second;
}

void MemoryCache::put(const std::string& key, std::shared_ptr<const CachedVariant> value) {
  const std::uint64_t cost = value->bytes.size() + key.size();
  if (cost > largest_entry() || value->in_store) return;
  std::lock_guard lock(mutex_);
  if (auto found = index_.find(key); found != index_.end()) {
    bytes_ -= found->second->second->bytes.size() + key.size();
    order_.erase(found->second);
    index_.erase(found);
  }
  order_.emplace_front(key, std::move(value));
  index_[key] = order_.begin();
  bytes_ += cost;
  while (bytes_ > capacity_ && !order_.empty()) {
    auto& oldest = order_.back();
    bytes_ -= oldest.second->bytes.size() + oldest.first.size();
    index_.erase(oldest.first);
    order_.pop_back();
  }
}

std::uint64_t MemoryCache::size_bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

std::size_t MemoryCache::entries() const {
  std::lock_guard lock(mutex_);
  return index_.size();
}

}  // namespace imageflex
