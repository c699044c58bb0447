// Housekeeping of the folder store's variant tree (everything under `_imageflex/`;
// originals are never touched), on one background thread so neither start-up nor a
// request waits for it:
// - a quota on variant bytes: an in-memory LRU index, filled by a scan of the tree at
//   start and updated on every put and store hit; when a put takes it over the quota,
//   the least recently used variants are deleted down to 90% of it, and folders left
//   empty go with them;
// - crash clean-up: `.tmp-*` files (a write cut by kill -9 or a power loss) older than a
//   grace age are deleted at start and by a sweep every 10 minutes; younger ones may be
//   another process's write in progress, so they are checked again once they are old.
// The sweep also re-reads the tree, so several processes sharing one folder see each
// other's variants; "last used" is kept in each file's atime for the same reason.
// A file already gone when it is deleted (another process got there first) is fine.
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/unique_fd.h"
#include "storage/lru_index.h"

namespace imageflex {

struct FsHousekeeping {
  std::uint64_t quota_bytes = 0;          // variant bytes allowed; 0 = unlimited (no index kept)
  std::chrono::seconds temp_max_age{60};  // a `.tmp-*` file older than this is a crash's leftover
  std::chrono::seconds sweep_interval{600};
};

class FsHousekeeper {
 public:
  // ROOT_FD is the store's root folder; the housekeeper keeps its own duplicate.
  // EVICTED, if given, is told the key of each variant deleted for the quota.
  FsHousekeeper(int root_fd, FsHousekeeping settings,
                std::function<void(const std::string&)> evicted = nullptr);
  ~FsHousekeeper();  // stops the thread; a sweep in progress ends at its next file
  FsHousekeeper(const FsHousekeeper&) = delete;
  FsHousekeeper& operator=(const FsHousekeeper&) = delete;

  // Whether KEY is a variant, the only kind of object kept here.
  static bool is_variant(const std::string& key);
  // The store wrote variant KEY of SIZE bytes.
  void written(const std::string& key, std::uint64_t size);
  // The store deleted variant KEY on request.
  void removed(const std::string& key);
  // The store served variant KEY from the open file FD: it becomes the most recently used,
  // here and in the file's atime (what a scan by this or another process reads).
  void served(const std::string& key, int fd, const struct stat& st);

  // Counters for /_imageflex/stats.
  std::vector<std::pair<std::string, std::uint64_t>> stats() const;

 private:
  struct PendingTemp {
    std::string path;
    std::chrono::steady_clock::time_point due;  // when it is old enough to be a leftover
  };

  void run();
  // Walks the variant tree: deletes stale temporaries, remembers fresh ones, and (with a
  // quota) reconciles the index with what is on disk.
  void sweep();
  void walk(int dir_fd, const std::string& path, std::uint64_t round, std::int64_t now_ns);
  void check_pending_temps();
  void remove_if_stale(int dir_fd, const std::string& dir, const char* name, const struct stat& st,
                       std::int64_t now_ns);
  void evict();
  // Deletes variant KEY and then its folders while they are empty, up to `_imageflex/`.
  void remove_variant(const std::string& key);
  void use(const std::string& key, std::uint64_t size);

  UniqueFd root_fd_;
  const FsHousekeeping settings_;
  const std::function<void(const std::string&)> evicted_;
  const std::uint64_t low_water_;

  mutable std::mutex mutex_;  // guards index_, pending_, over_quota_; never held during file I/O
  std::condition_variable wake_;
  LruIndex index_;
  std::vector<PendingTemp> pending_;
  std::atomic<bool> stopping_{false};  // also read, without the lock, by a sweep in progress
  bool over_quota_ = false;

  std::atomic<std::uint64_t> evictions_{0};
  std::atomic<std::uint64_t> evicted_bytes_{0};
  std::atomic<std::uint64_t> temps_removed_{0};
  std::atomic<std::uint64_t> sweeps_{0};
  std::thread thread_;
};

}  // namespace imageflex
