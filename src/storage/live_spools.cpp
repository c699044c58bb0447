#include "storage/live_spools.h"

#include <algorithm>
#include <iterator>
#include <utility>

namespace imageflex {

std::optional<LiveSpools::Spool> LiveSpools::find(const std::string& key) {
  const std::lock_guard lock(mutex_);
  const auto found = entries_.find(key);
  if (found == entries_.end()) return std::nullopt;
  auto object = found->second.object.lock();
  if (!object) {
    entries_.erase(found);
    return std::nullopt;
  }
  return Spool{found->second.info, std::move(object)};
}

void LiveSpools::remember(const std::string& key, Spool spool) {
  const std::lock_guard lock(mutex_);
  entries_[key] = Entry{std::move(spool.info), spool.object};
  if (entries_.size() < sweep_at_) return;
  // Keys asked once and never again would otherwise stay for good.
  for (auto it = entries_.begin(); it != entries_.end();) {
    it = it->second.object.expired() ? entries_.erase(it) : std::next(it);
  }
  sweep_at_ = std::max<std::size_t>(64, 2 * entries_.size());
}

}  // namespace imageflex
