#include "cache/trusted_versions.h"

namespace imageflex {

std::optional<ObjectInfo> TrustedVersions::get(const std::string& key, Clock::time_point now) {
  if (window_.count() == 0) return std::nullopt;
  const std::lock_guard lock(mutex_);
  auto found = index_.find(key);
  if (found == index_.end()) return std::nullopt;
  if (now - found->second->learnt >= window_) return std::nullopt;  // expired: the caller asks again
  return found->second->info;
}

void TrustedVersions::learn(const std::string& key, const ObjectInfo& info, Clock::time_point now) {
  if (window_.count() == 0 || capacity_ == 0) return;
  ObjectInfo kept = info;
  kept.metadata.clear();  // only the version, size and date name and describe variants
  const std::lock_guard lock(mutex_);
  if (auto found = index_.find(key); found != index_.end()) {
    order_.erase(found->second);
    index_.erase(found);
  }
  order_.push_front(Item{key, std::move(kept), now});
  index_[key] = order_.begin();
  // The oldest learnt goes first: it is the nearest to expiring anyway.
  while (order_.size() > capacity_) {
    index_.erase(order_.back().key);
    order_.pop_back();
  }
}

void TrustedVersions::forget(const std::string& key) {
  const std::lock_guard lock(mutex_);
  if (auto found = index_.find(key); found != index_.end()) {
    order_.erase(found->second);
    index_.erase(found);
  }
}

}  // namespace imageflex
