#include "storage/open_files.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include "common/error.h"

namespace imageflex {
namespace {

// The same file as when it was opened: still linked under a name, and not rewritten in place.
bool unchanged(const struct stat& opened, const struct stat& now) {
  return now.st_nlink > 0 && now.st_size == opened.st_size && now.st_mtim.tv_sec == opened.st_mtim.tv_sec &&
         now.st_mtim.tv_nsec == opened.st_mtim.tv_nsec;
}

}  // namespace

std::shared_ptr<const OpenFileCache::Held> OpenFileCache::find(const std::string& key, struct stat& now) {
  std::vector<std::shared_ptr<const Held>> released;  // closed after the lock is let go
  std::shared_ptr<const Held> held;
  const auto at = Clock::now();
  {
    const std::lock_guard lock(mutex_);
    drop_inactive(at, released);
    auto found = index_.find(key);
    if (found == index_.end()) return nullptr;
    Entry& entry = *found->second;
    order_.splice(order_.begin(), order_, found->second);
    entry.used = at;
    if (at - entry.checked < recheck_) {
      now = entry.seen;  // checked against its name within the window
      hits_.fetch_add(1, std::memory_order_relaxed);
      return entry.held;
    }
    held = entry.held;
  }
  // An fstat: what makes a held descriptor as fresh as opening the name.
  const bool same = ::fstat(held->file->fd(), &now) == 0 && unchanged(held->opened, now);
  const std::lock_guard lock(mutex_);
  auto found = index_.find(key);
  if (found == index_.end() || found->second->held != held) return same ? held : nullptr;
  if (same) {
    found->second->checked = at;
    found->second->seen = now;
    hits_.fetch_add(1, std::memory_order_relaxed);
    return held;
  }
  released.push_back(std::move(found->second->held));
  order_.erase(found->second);
  index_.erase(found);
  return nullptr;
}

void OpenFileCache::hold(const std::string& key, std::shared_ptr<const Held> held) {
  if (capacity_ == 0) return;
  std::vector<std::shared_ptr<const Held>> released;
  const auto at = Clock::now();
  const std::lock_guard lock(mutex_);
  drop_inactive(at, released);
  const struct stat opened = held->opened;
  if (auto found = index_.find(key); found != index_.end()) {
    released.push_back(std::exchange(found->second->held, std::move(held)));
    found->second->used = found->second->checked = at;
    found->second->seen = opened;
    order_.splice(order_.begin(), order_, found->second);
    return;
  }
  order_.push_front(Entry{key, std::move(held), at, at, opened});
  index_[key] = order_.begin();
  while (order_.size() > capacity_) {
    released.push_back(std::move(order_.back().held));
    index_.erase(order_.back().key);
    order_.pop_back();
  }
}

void OpenFileCache::forget(const std::string& key) {
  std::shared_ptr<const Held> released;
  const std::lock_guard lock(mutex_);
  if (auto found = index_.find(key); found != index_.end()) {
    released = std::move(found->second->held);
    order_.erase(found->second);
    index_.erase(found);
  }
}

void OpenFileCache::drop_inactive(Clock::time_point now, std::vector<std::shared_ptr<const Held>>& released) {
  while (!order_.empty() && now - order_.back().used > inactive_) {
    released.push_back(std::move(order_.back().held));
    index_.erase(order_.back().key);
    order_.pop_back();
  }
}

std::size_t OpenFileCache::size() const {
  const std::lock_guard lock(mutex_);
  return index_.size();
}

std::uint64_t OpenFileCache::hits() const {
  return hits_.load(std::memory_order_relaxed);
}

}  // namespace imageflex
