// The folder store's open files: a bounded cache of variant files kept open between requests
// (OpenFileCache), like nginx's open_file_cache. A hit on a held variant costs at most one
// fstat instead of an open beneath the root, an fstat, the xattr reads and a close, and
// needs no blocking call at all (Storage::get_held), so an I/O thread can answer it.
//
// Why serving a held descriptor is safe: a variant file is only ever written whole to a
// temporary that is renamed into place, and its key names the original's version, so the
// bytes under one name never change while the name stays; the store's own writes, removals
// and quota evictions let go of the name's held file at once. What happens outside the
// process (another node's eviction, a file deleted or edited by hand) is found by an fstat
// of the descriptor: a file removed or renamed over has no link left, a file rewritten in
// place has another size or mtime; then the entry is dropped and the caller opens the name
// again. That check runs at most once per recheck interval per file (the server passes
// --trust-version-ms, the staleness it already accepts for originals): an fstat cost a
// 16 KB hit about 6 of its 34 µs of CPU on this VM (BENCHMARKS.md).
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/unique_fd.h"
#include "storage/open_file.h"
#include "storage/storage.h"

namespace imageflex {

// Thread-safe. At most `capacity` files are held; one unused for `inactive` is let go at
// the next call, so a variant another process deleted does not keep its disk space long.
class OpenFileCache {
 public:
  using Clock = std::chrono::steady_clock;

  // An opened file, with what the store answers about it (its xattrs, read once) and its
  // stat when it was opened.
  struct Held {
    std::shared_ptr<const OpenFile> file;
    ObjectInfo info;
    struct stat opened {};
  };

  // A held file is checked against its name at most once per RECHECK (zero: on every find).
  OpenFileCache(std::size_t capacity, Clock::duration inactive, Clock::duration recheck)
      : capacity_(capacity), inactive_(inactive), recheck_(recheck) {}

  // KEY's held file, if it was still the file at its name, unchanged, when last checked
  // (now, or within the recheck interval); `now` is set to that check's stat. Nothing
  // otherwise (a file that changed is let go).
  std::shared_ptr<const Held> find(const std::string& key, struct stat& now);
  // Keeps KEY's file open for the next requests (replacing what was held for it).
  void hold(const std::string& key, std::shared_ptr<const Held> held);
  // KEY's name no longer means this file (removed or written again here): let it go.
  void forget(const std::string& key);

  std::size_t size() const;
  std::uint64_t hits() const;  // answers from a held file since start

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<const Held> held;
    Clock::time_point used;
    Clock::time_point checked;  // last found to be the file at its name
    struct stat seen {};        // what that check saw
  };
  // Takes out the entries unused for `inactive_` (the oldest are at the back), under the
  // lock, into `released`: their files are closed once the lock is let go.
  void drop_inactive(Clock::time_point now, std::vector<std::shared_ptr<const Held>>& released);

  const std::size_t capacity_;
  const Clock::duration inactive_;
  const Clock::duration recheck_;
  mutable std::mutex mutex_;
  std::list<Entry> order_;  // most recently used first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  std::atomic<std::uint64_t> hits_{0};
};

}  // namespace imageflex
