// Filesystem storage: a folder is the bucket. Every path is resolved beneath the
// root (openat2 RESOLVE_BENEATH, or a walk where that is missing), so neither '..' nor a
// symlink can leave it.
// Writes go to a temporary file that is renamed into place: atomic for readers.
// Length, content type, Cache-Control and metadata live in one user xattr where supported.
// With housekeeping (storage/fs_housekeeper.h), variants have a quota and temporaries
// left by a crash are removed; hot variant files may be held open (storage/open_files.h).
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "common/unique_fd.h"
#include "storage/fs_housekeeper.h"
#include "storage/open_files.h"
#include "storage/storage.h"

namespace imageflex {

class FsStorage : public Storage {
 public:
  explicit FsStorage(const std::string& root);  // throws std::invalid_argument
  // The same, with a housekeeper for the variant tree and up to OPEN_FILES variant files
  // held open between requests (storage/open_files.h; 0: none), each checked against its
  // name at most once per RECHECK (zero: on every read): what the server uses.
  FsStorage(const std::string& root, const FsHousekeeping& housekeeping, std::size_t open_files = 0,
            std::chrono::milliseconds recheck = {});
  ~FsStorage() override;

  std::optional<ObjectInfo> stat(const std::string& key) override;
  GetResult get(const std::string& key, const GetOptions& options) override;
  // A variant whose file is held open (storage/open_files.h): an fstat, and a read of the
  // bytes unless they are handed back open.
  std::optional<GetResult> get_held(const std::string& key, const GetOptions& options) override;
  void put(const std::string& key, std::string_view bytes, const PutOptions& options) override;
  void remove(const std::string& key) override;
  ListPage list(const std::string& prefix, const std::string& start_after, std::size_t max_keys) override;
  std::string describe() const override { return "file:" + root_; }
  std::vector<std::pair<std::string, std::uint64_t>> stats() const override;
  std::uint64_t bytes_read() const override { return bytes_read_.load(); }

 private:
  int open_beneath(const std::string& key, int flags) const;  // -1 with errno set
  // A regular file's descriptor, its stat and what its writer recorded (content type,
  // metadata), or -1 when there is no such object (missing, not a file, cut short by a
  // crash, or a path that escapes the root). Throws on I/O errors.
  int open_object(const std::string& key, struct stat& st, ObjectInfo& info) const;
  int make_folders(const std::string& key) const;  // 0, or -1 with errno set
  // get()'s answer from an opened file whose stat (now) is ST.
  GetResult answer(const std::string& key, const OpenFileCache::Held& file, const struct stat& st,
                   const GetOptions& options);

  std::string root_;
  UniqueFd root_fd_;
  std::unique_ptr<OpenFileCache> open_files_;   // variant files held open; none when off
  std::unique_ptr<FsHousekeeper> housekeeper_;  // declared last: its thread stops first
  std::atomic<std::uint64_t> bytes_read_{0};
};

}  // namespace imageflex
