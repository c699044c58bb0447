#include "storage/lru_index.h"

namespace imageflex {

void LruIndex::set_time(Entries::iterator at, std::int64_t time) {
  by_time_.erase({at->second.time, &at->first});
  at->second.time = time;
  by_time_.insert({time, &at->first});
}

void LruIndex::erase(Entries::iterator at) {
  by_time_.erase({at->second.time, &at->first});
  bytes_ -= at->second.size;
  entries_.erase(at);
}

void LruIndex::touch(const std::string& key, std::uint64_t size, std::int64_t time) {
  auto [at, added] = entries_.try_emplace(key, Entry{size, time, 0});
  if (added) {
    by_time_.insert({time, &at->first});
    bytes_ += size;
    return;
  }
  bytes_ = bytes_ - at->second.size + size;
  at->second.size = size;
  // A clock that stepped back must not make a fresh use look old.
  if (time > at->second.time) set_time(at, time);
}

void LruIndex::forget(const std::string& key) {
  auto at = entries_.find(key);
  if (at != entries_.end()) erase(at);
}

void LruIndex::seen(const std::string& key, std::uint64_t size, std::int64_t time, std::uint64_t round) {
  touch(key, size, time);
  entries_.find(key)->second.round = round;
}

std::size_t LruIndex::drop_unseen(std::uint64_t round, std::int64_t started) {
  std::size_t dropped = 0;
  for (auto at = entries_.begin(); at != entries_.end();) {
    auto next = std::next(at);
    if (at->second.round != round && at->second.time < started) {
      erase(at);
      ++dropped;
    }
    at = next;
  }
  return dropped;
}

std::vector<LruIndex::Victim> LruIndex::take_oldest(std::uint64_t target) {
  std::vector<Victim> victims;
  while (bytes_ > target && !by_time_.empty()) {
    auto at = entries_.find(*by_time_.begin()->second);
    victims.push_back({at->first, at->second.size});
    erase(at);
  }
  return victims;
}

}  // namespace imageflex
