#include "cache/memory_cache.h"

#include "common/allocator.h"

namespace imageflex {

namespace {

// A string's heap buffer as allocated; none when its characters are kept in the string itself.
std::uint64_t heap_bytes(const std::string& text) {
  const auto* self = reinterpret_cast<const char*>(&text);
  const bool inside = text.data() >= self && text.data() < self + sizeof(std::string);
  return inside ? 0 : allocated_size(text.data());
}

// The list node, the index's node and bucket, the shared control block with CachedVariant.
constexpr std::uint64_t kEntryNodes = 256;

}  // namespace

std::uint64_t entry_cost(const std::string& key, const CachedVariant& variant) {
  return heap_bytes(variant.bytes) + heap_bytes(variant.content_type) + heap_bytes(variant.etag) +
         2 * heap_bytes(key) + kEntryNodes;
}

std::shared_ptr<const CachedVariant> MemoryCache::get(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto found = index_.find(key);
  if (found == index_.end()) return nullptr;
  order_.splice(order_.begin(), order_, found->second);
  return found->second->value;
}

void MemoryCache::put(const std::string& key, std::shared_ptr<const CachedVariant> value) {
  if (value->in_store) return;
  // By its bytes, as the handler decides what to read into memory (largest_entry): judged by
  // its cost, a store hit just under the limit was read whole and then not kept.
  if (value->bytes.size() > largest_entry()) return;
  const std::uint64_t cost = entry_cost(key, *value);
  std::lock_guard lock(mutex_);
  if (auto found = index_.find(key); found != index_.end()) {
    bytes_ -= found->second->cost;
    order_.erase(found->second);
    index_.erase(found);
  }
  order_.push_front({key, std::move(value), cost});
  index_[key] = order_.begin();
  bytes_ += cost;
  while (bytes_ > capacity_ && !order_.empty()) {
    const Entry& oldest = order_.back();
    bytes_ -= oldest.cost;
    index_.erase(oldest.key);
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
