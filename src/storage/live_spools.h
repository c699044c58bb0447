// The S3 objects spooled (open_file.h) and still being sent, by key, so that a request for
// the version one of them holds shares its file instead of downloading and spooling another
// copy: S3 confirms the version (a GET with If-None-Match answered 304, no body), and the
// spool disk then grows with the distinct objects being sent, not with their clients.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "storage/storage.h"

namespace imageflex {

// Thread-safe. Holds no file open itself: an entry lives as long as a response reads it.
class LiveSpools {
 public:
  struct Spool {
    ObjectInfo info;  // of the response the file was written from
    std::shared_ptr<const OpenObject> object;
  };

  // The spool of `key` some response still reads, if any.
  std::optional<Spool> find(const std::string& key);
  void remember(const std::string& key, Spool spool);

 private:
  struct Entry {
    ObjectInfo info;
    std::weak_ptr<const OpenObject> object;
  };
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
  std::size_t sweep_at_ = 64;  // entries whose files are gone are dropped when the map reaches this
};

}  // namespace imageflex
