// The storage contract shared by every backend (filesystem, S3). Keys are
// '/'-separated relative paths, already validated by the caller (see
// validate_key in request/image_request.h): no leading '/', no '.' or '..' segments,
// no NUL.
//
// Thread-safety: every backend may be called from any number of threads at once.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace imageflex {

struct ObjectInfo {
  std::string etag;                             // opaque version id, without quotes
  std::uint64_t size = 0;                       // bytes
  std::int64_t last_modified = 0;               // unix seconds
  std::string content_type;                     // as stored; may be empty
  std::map<std::string, std::string> metadata;  // user metadata, lower-case names
};

// An object's bytes left in the store and read piece by piece as they are sent
// (GetOptions::open_above), so a large object is never whole in memory. It is the version
// get() checked: a replace (rename) meanwhile does not change what it reads.
class OpenObject {
 public:
  virtual ~OpenObject() = default;
  virtual std::uint64_t size() const = 0;
  // Up to `length` bytes from `offset` into `into`; fewer only at the end. Throws
  // Error(ErrorKind::kStoreUnavailable) when the store fails.
  virtual std::size_t read(std::uint64_t offset, char* into, std::size_t length) const = 0;
};

struct Object {
  ObjectInfo info;
  std::string bytes;
  std::shared_ptr<const OpenObject> opened;  // instead of bytes, when GetOptions::open_above allowed it
};

struct GetOptions {
  std::string if_match;                  // non-empty: fail with kPreconditionFailed unless etag matches
  std::string if_none_match;             // non-empty: kNotModified when etag matches
  std::uint64_t max_bytes = UINT64_MAX;  // larger objects give kTooLarge without reading the body
  // Non-zero: read at most this many bytes from the start (a header, before the whole
  // object is worth reading). info.size stays the whole object's size, and max_bytes is
  // still judged against it.
  std::uint64_t first_bytes = 0;
  // A larger object (and no first_bytes) may come back open (Object::opened, bytes empty):
  // the folder store leaves its file open, S3 writes the GET to an unnamed spool file (from
  // 64 KiB up: smaller ones stay in memory). 0: open whatever can be opened.
  std::uint64_t open_above = UINT64_MAX;
};

// One page of keys (Storage::list).
struct ListPage {
  std::vector<std::string> keys;  // ascending byte order
  std::string next;               // pass as start_after for the next page; "" = this was the last
};

enum class GetStatus { kOk, kNotFound, kNotModified, kPreconditionFailed, kTooLarge };

struct GetResult {
  GetStatus status = GetStatus::kNotFound;
  // bytes (or opened) set for kOk (a prefix with first_bytes); info set for kOk, kNotModified, kTooLarge
  Object object;
};

struct PutOptions {
  std::string content_type;
  std::string cache_control;
  std::map<std::string, std::string> metadata;  // lower-case names, ASCII values
};

// Backends throw Error(ErrorKind::kStoreUnavailable, ...) when the store itself
// fails (I/O error, unreachable, 5xx after retries); a missing key is not an error.
class Storage {
 public:
  virtual ~Storage() = default;
  virtual std::optional<ObjectInfo> stat(const std::string& key) = 0;
  virtual GetResult get(const std::string& key, const GetOptions& options) = 0;
  // get()'s answer when the backend can give it without blocking: from an object it holds
  // open (the folder store's held variant files), never opening a file or asking a server.
  // Nothing when it would have to; then only get() knows.
  virtual std::optional<GetResult> get_held(const std::string& /*key*/, const GetOptions& /*options*/) {
    return std::nullopt;
  }
  // Atomic: readers see the old object or the whole new one, never a part.
  virtual void put(const std::string& key, std::string_view bytes, const PutOptions& options) = 0;
  virtual void remove(const std::string& key) = 0;  // a missing key is not an error
  // Up to `max_keys` keys that start with `prefix` and sort after `start_after`
  // (ascending byte order), for `imageflex warm` and the playground. The service's own
  // keys (under _imageflex/, and unfinished writes) are never listed, so a page may hold
  // fewer keys than asked even when `next` says there are more.
  virtual ListPage list(const std::string& prefix, const std::string& start_after, std::size_t max_keys) = 0;
  virtual std::string describe() const = 0;  // for logs: "file:/srv/img", "s3://bucket/prefix"
  // The backend's own counters for /_imageflex/stats (the folder store's quota, say).
  virtual std::vector<std::pair<std::string, std::uint64_t>> stats() const { return {}; }
  // Body bytes get() has read from the store since start (stats: what a request cost the store);
  // an object handed back open counts whole (an S3 spool shared on a 304 moved none).
  virtual std::uint64_t bytes_read() const = 0;
};

}  // namespace imageflex
