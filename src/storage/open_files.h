// The folder store's open files: a file left open for a response to read as it is sent
// (OpenFile), and a bounded cache of variant files kept open between requests
// (OpenFileCache), like nginx's open_file_cache. A hit on a held variant costs one fstat
// instead of an open beneath the root, an fstat, the xattr reads and a close, and needs no
// blocking call at all (Storage::get_held), so an I/O thread can answer it.
//
// Why serving a held descriptor is safe: a variant file is only ever written whole to a
// temporary that is renamed into place, and its key names the original's version, so the
// bytes under one name never change while the name stays. Every hit still checks, with an
// fstat of the descriptor, that it is the file at the name and as it was opened: a file
// removed, evicted or renamed over has no link left, a file rewritten in place has another
// size or mtime. Then the entry is dropped and the caller opens the name again.
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
#include "storage/storage.h"

namespace imageflex {

// Reads from a descriptor until `length` bytes or the end; throws
// Error(ErrorKind::kStoreUnavailable) on an I/O error.
std::size_t read_at(int fd, std::uint64_t offset, char* into, std::size_t length);

// A regular file's version held open: what get() checked, read at any offset (pread) by
// any number of responses at once. A replace (rename) meanwhile does not change what it reads.
class OpenFile final : public OpenObject {
 public:
  OpenFile(UniqueFd file, std::uint64_t size) : file_(std::move(file)), size_(size) {}
  std::uint64_t size() const override { return size_; }
  std::size_t read(std::uint64_t offset, char* into, std::size_t length) const override;
  int fd() const { return file_.get(); }

 private:
  UniqueFd file_;
  std::uint64_t size_;
};

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

  OpenFileCache(std::size_t capacity, Clock::duration inactive) : capacity_(capacity), inactive_(inactive) {}

  // KEY's held file, if it is still the file at its name and unchanged; `now` is set to its
  // fresh stat. Nothing otherwise (a file that changed is let go).
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
  };
  // Takes out the entries unused for `inactive_` (the oldest are at the back), under the
  // lock, into `released`: their files are closed once the lock is let go.
  void drop_inactive(Clock::time_point now, std::vector<std::shared_ptr<const Held>>& released);

  const std::size_t capacity_;
  const Clock::duration inactive_;
  mutable std::mutex mutex_;
  std::list<Entry> order_;  // most recently used first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  std::atomic<std::uint64_t> hits_{0};
};

}  // namespace imageflex
