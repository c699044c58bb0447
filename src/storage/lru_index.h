// Which stored variants were used least recently, and how many bytes they hold: the
// bookkeeping behind the folder store's quota (storage/fs_housekeeper.h). Pure logic,
// no I/O and no lock of its own: its owner serialises calls.
//
// Times are nanoseconds since the Unix epoch, so a use seen now and a file's atime read
// by a scan of the folder (which other processes may have set) order together.
// Memory: one key string plus two tree nodes per variant, about 150-250 bytes each.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace imageflex {

class LruIndex {
 public:
  struct Victim {
    std::string key;
    std::uint64_t size = 0;
  };

  // KEY was written or served at TIME; its size is SIZE now (it may have been replaced).
  void touch(const std::string& key, std::uint64_t size, std::int64_t time);
  void forget(const std::string& key);
  bool contains(const std::string& key) const { return entries_.count(key) != 0; }

  // A scan of the folder found KEY (SIZE bytes, last used at TIME by its atime): adds it if
  // unknown, keeps the later of both times, and marks it seen by scan ROUND.
  void seen(const std::string& key, std::uint64_t size, std::int64_t time, std::uint64_t round);
  // After scan ROUND, which began at STARTED, finished: entries it did not see and nobody
  // used since it began are gone from disk (removed by hand or by another process).
  // Returns how many were dropped.
  std::size_t drop_unseen(std::uint64_t round, std::int64_t started);

  // The least recently used entries, oldest first, removed from the index until
  // used_bytes() <= TARGET.
  std::vector<Victim> take_oldest(std::uint64_t target);

  std::uint64_t used_bytes() const { return bytes_; }
  std::size_t count() const { return entries_.size(); }

 private:
  struct Entry {
    std::uint64_t size = 0;
    std::int64_t time = 0;
    std::uint64_t round = 0;  // the last scan that saw it
  };
  using Entries = std::unordered_map<std::string, Entry>;

  void set_time(Entries::iterator at, std::int64_t time);
  void erase(Entries::iterator at);

  Entries entries_;
  // (time, key) in use order; the key points into entries_, whose nodes never move.
  std::set<std::pair<std::int64_t, const std::string*>> by_time_;
  std::uint64_t bytes_ = 0;
};

}  // namespace imageflex
