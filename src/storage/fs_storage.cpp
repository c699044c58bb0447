#include "storage/fs_storage.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <utility>

#include "common/error.h"
#include "common/unique_fd.h"
#include "image/format.h"
#include "storage/open_beneath.h"
#include "storage/open_file.h"
#include "storage/open_files.h"

namespace imageflex {
namespace {

constexpr const char* kXattrPrefix = "user.imageflex.";
// A held variant file unused this long is closed (nginx's open_file_cache inactive=60s).
constexpr auto kHeldInactive = std::chrono::seconds(60);

[[noreturn]] void store_failure(const std::string& what) {
  throw Error(ErrorKind::kStoreUnavailable, "storage error: " + what + " (" + std::strerror(errno) + ")");
}

// A version id that changes whenever the file is replaced (inode) or rewritten (size, mtime).
std::string file_etag(const struct stat& st) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "%lx-%lx-%llx%09lx", static_cast<unsigned long>(st.st_ino),
                static_cast<unsigned long>(st.st_size), static_cast<unsigned long long>(st.st_mtim.tv_sec),
                static_cast<unsigned long>(st.st_mtim.tv_nsec));
  return buf;
}

// What a writer records beside a file's bytes, in one xattr (kXattr) of "name=value" lines:
// length, content-type, cache-control and meta.NAME. One xattr is one write on a miss and one
// read on a store hit: four of them cost a miss about 130 us of system time on this project's
// VM (BENCHMARKS.md, "Server CPU per miss"). Files written before it keep an xattr per name
// (kXattrPrefix + name), still read.
constexpr const char* kXattr = "user.imageflex";

std::string read_xattr(int fd, const std::string& name) {
  char value[4096];
  ssize_t n = fgetxattr(fd, name.c_str(), value, sizeof value);
  return n > 0 ? std::string(value, static_cast<std::size_t>(n)) : std::string();
}

struct Recorded {
  std::string length;  // as written; empty when none was recorded
  ObjectInfo info;     // content_type and metadata
};

void take(Recorded& recorded, std::string_view name, std::string value) {
  if (name == "length") {
    recorded.length = std::move(value);
  } else if (name == "content-type") {
    recorded.info.content_type = std::move(value);
  } else if (name.starts_with("meta.")) {
    recorded.info.metadata[std::string(name.substr(5))] = std::move(value);
  }
}

// One flistxattr, then only what it names: an original has no xattrs, and costs one call.
Recorded read_recorded(int fd) {
  Recorded recorded;
  char names[4096];
  const ssize_t n = flistxattr(fd, names, sizeof names);
  const std::string_view prefix = kXattrPrefix;
  for (ssize_t at = 0; at < n;) {
    const std::string name(names + at);
    at += static_cast<ssize_t>(name.size()) + 1;
    if (name == kXattr) {
      const std::string lines = read_xattr(fd, name);
      for (std::size_t start = 0; start < lines.size();) {
        const auto end = std::min(lines.find('\n', start), lines.size());
        const std::string_view line = std::string_view(lines).substr(start, end - start);
        if (const auto equals = line.find('='); equals != std::string_view::npos)
          take(recorded, line.substr(0, equals), std::string(line.substr(equals + 1)));
        start = end + 1;
      }
    } else if (name.starts_with(prefix)) {
      take(recorded, std::string_view(name).substr(prefix.size()), read_xattr(fd, name));
    }
  }
  return recorded;
}

// A file whose size is not the length its writer recorded was cut short: a write that a
// crash interrupted after its rename (writes are not synced to disk; see put). No object.
bool torn(const Recorded& recorded, const struct stat& st) {
  return !recorded.length.empty() && recorded.length != std::to_string(st.st_size);
}

ObjectInfo info_of(Recorded recorded, const struct stat& st) {
  ObjectInfo info = std::move(recorded.info);
  info.etag = file_etag(st);
  info.size = static_cast<std::uint64_t>(st.st_size);
  info.last_modified = st.st_mtim.tv_sec;
  return info;
}

}  // namespace

FsStorage::FsStorage(const std::string& root) : root_(root) {
  root_fd_.reset(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd_.valid()) throw std::invalid_argument("invalid root '" + root + "': " + std::strerror(errno));
}

FsStorage::FsStorage(const std::string& root, const FsHousekeeping& housekeeping, std::size_t open_files,
                     std::chrono::milliseconds recheck)
    : FsStorage(root) {
  if (open_files > 0) open_files_ = std::make_unique<OpenFileCache>(open_files, kHeldInactive, recheck);
  // A variant evicted for the quota is let go here too, so its disk space is freed at once.
  housekeeper_ =
      std::make_unique<FsHousekeeper>(root_fd_.get(), housekeeping, [this](const std::string& key) {
        if (open_files_) open_files_->forget(key);
      });
}

FsStorage::~FsStorage() = default;

int FsStorage::open_beneath(const std::string& key, int flags) const {
  return imageflex::open_beneath(root_fd_.get(), key, flags);
}

std::vector<std::pair<std::string, std::uint64_t>> FsStorage::stats() const {
  auto stats = housekeeper_ ? housekeeper_->stats() : std::vector<std::pair<std::string, std::uint64_t>>{};
  stats.emplace_back("store_open_files", open_files_ ? open_files_->size() : 0);
  stats.emplace_back("store_open_file_hits", open_files_ ? open_files_->hits() : 0);
  return stats;
}

int FsStorage::open_object(const std::string& key, struct stat& st, ObjectInfo& info) const {
  UniqueFd file{open_beneath(key, O_RDONLY | O_NONBLOCK)};
  if (file.get() < 0) {
    if (errno == ENOENT || errno == ENOTDIR || errno == EXDEV || errno == ELOOP || errno == ENAMETOOLONG) {
      return -1;  // missing, or a path that escapes the root: both are "not here"
    }
    store_failure("cannot open object");
  }
  if (::fstat(file.get(), &st) != 0) store_failure("cannot stat object");
  if (!S_ISREG(st.st_mode)) return -1;
  Recorded recorded = read_recorded(file.get());
  if (torn(recorded, st)) return -1;
  info = info_of(std::move(recorded), st);
  return file.release();
}

std::optional<ObjectInfo> FsStorage::stat(const std::string& key) {
  struct stat st {};
  ObjectInfo info;
  UniqueFd file{open_object(key, st, info)};
  if (file.get() < 0) return std::nullopt;
  return info;
}

GetResult FsStorage::get(const std::string& key, const GetOptions& options) {
  struct stat st {};
  if (auto held = open_files_ ? open_files_->find(key, st) : nullptr) return answer(key, *held, st, options);
  auto opened = std::make_shared<OpenFileCache::Held>();
  UniqueFd file{open_object(key, st, opened->info)};
  if (file.get() < 0) return {};
  if (opened->info.content_type.empty()) {
    // No type stored: the bytes say it (once, for as long as the file is held).
    std::string start(static_cast<std::size_t>(std::min<std::uint64_t>(opened->info.size, kSniffBytes)),
                      '\0');
    start.resize(read_at(file.get(), 0, start.data(), start.size()));
    if (auto format = sniff_format(start)) opened->info.content_type = std::string(mime_type(*format));
  }
  opened->opened = st;
  opened->file = std::make_shared<const OpenFile>(std::move(file), opened->info.size);
  // Only variants are held: written once under their name, their bytes never change there.
  if (open_files_ && FsHousekeeper::is_variant(key)) open_files_->hold(key, opened);
  return answer(key, *opened, st, options);
}

std::optional<GetResult> FsStorage::get_held(const std::string& key, const GetOptions& options) {
  struct stat st {};
  auto held = open_files_ ? open_files_->find(key, st) : nullptr;
  if (!held) return std::nullopt;
  return answer(key, *held, st, options);
}

GetResult FsStorage::answer(const std::string& key, const OpenFileCache::Held& file, const struct stat& st,
                            const GetOptions& options) {
  GetResult result;
  result.object.info = file.info;
  const auto& etag = result.object.info.etag;
  if (!options.if_match.empty() && options.if_match != etag) {
    result.status = GetStatus::kPreconditionFailed;
    return result;
  }
  if (!options.if_none_match.empty() && options.if_none_match == etag) {
    result.status = GetStatus::kNotModified;
    return result;
  }
  if (result.object.info.size > options.max_bytes) {
    result.status = GetStatus::kTooLarge;
    return result;
  }
  // Served from the store: the quota's "recently used".
  if (housekeeper_ && FsHousekeeper::is_variant(key)) housekeeper_->served(key, file.file->fd(), st);
  // The open descriptor pins this version: a concurrent replace (rename) cannot mix bytes.
  const std::uint64_t size = result.object.info.size;
  if (options.first_bytes == 0 && size > options.open_above) {
    result.object.opened = file.file;  // read as it is sent
    bytes_read_ += size;
  } else {
    std::string& bytes = result.object.bytes;
    bytes.resize(options.first_bytes > 0 ? std::min(options.first_bytes, size) : size);
    bytes.resize(read_at(file.file->fd(), 0, bytes.data(), bytes.size()));
    bytes_read_ += bytes.size();
  }
  result.status = GetStatus::kOk;
  return result;
}

int FsStorage::make_folders(const std::string& key) const {
  // The parent folders one at a time, each inside a folder opened beneath the root.
  for (auto slash = key.find('/'); slash != std::string::npos; slash = key.find('/', slash + 1)) {
    auto previous = key.rfind('/', slash - 1);
    bool top = previous == std::string::npos || slash == 0;
    UniqueFd parent{open_beneath(top ? "." : key.substr(0, previous), O_RDONLY | O_DIRECTORY)};
    std::string name = key.substr(top ? 0 : previous + 1, top ? slash : slash - previous - 1);
    if (parent.get() < 0) return -1;
    if (::mkdirat(parent.get(), name.c_str(), 0755) != 0 && errno != EEXIST) return -1;
  }
  return 0;
}

void FsStorage::put(const std::string& key, std::string_view bytes, const PutOptions& options) {
  auto slash = key.rfind('/');
  std::string dir = slash == std::string::npos ? "." : key.substr(0, slash);
  static thread_local std::mt19937_64 random{std::random_device{}()};
  char temp[64];
  UniqueFd dir_fd;
  UniqueFd out;
  // The folder is opened first and made only when missing: most writes go into a folder that
  // exists, and walking every parent took an open and a mkdir for each of them (a dozen system
  // calls for a variant). A folder can also vanish between being made and being written into
  // (the housekeeper removes empty ones, perhaps another process's): then it is made again.
  for (int attempt = 1;; ++attempt) {
    const char* failed = "cannot open folder";
    if (dir_fd.reset(open_beneath(dir, O_RDONLY | O_DIRECTORY)); dir_fd.valid()) {
      std::snprintf(temp, sizeof temp, ".tmp-%016llx", static_cast<unsigned long long>(random()));
      out.reset(::openat(dir_fd.get(), temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
      if (out.valid()) break;
      failed = "cannot create file";
    } else if (errno == ENOENT) {
      if (make_folders(key) != 0) {
        failed = "cannot create folder";
      } else if (attempt < 3) {
        continue;  // made: open it again
      } else {
        errno = ENOENT;
      }
    }
    // ENOENT: the folder vanished after it was made; three attempts at most.
    if (errno != ENOENT || attempt == 3) store_failure(failed);
  }
  auto fail = [&](const char* what) {
    int saved = errno;
    ::unlinkat(dir_fd.get(), temp, 0);
    errno = saved;
    store_failure(what);
  };
  std::size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(out.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("cannot write file");
    done += static_cast<std::size_t>(n);
  }
  // Best effort: a filesystem without user xattrs still stores the bytes. A value cannot hold
  // a line break (HTTP header values never do), so one that has one is not recorded.
  std::string recorded;
  auto record = [&](const std::string& name, const std::string& value) {
    if (!value.empty() && value.find_first_of("\r\n") == std::string::npos)
      recorded += name + "=" + value + "\n";
  };
  record("length", std::to_string(bytes.size()));
  record("content-type", options.content_type);
  record("cache-control", options.cache_control);
  for (const auto& [name, value] : options.metadata) record("meta." + name, value);
  ::fsetxattr(out.get(), kXattr, recorded.data(), recorded.size(), 0);
  // Visible whole or not at all (rename), but not synced: a crash may leave the new name
  // with fewer bytes than were written, and the recorded length makes reads treat that as
  // no object (a miss: the variant is made again). An fsync here cost a miss about 5 ms
  // on a VM disk, and this store only keeps what can be made again.
  std::string name = slash == std::string::npos ? key : key.substr(slash + 1);
  if (::renameat(dir_fd.get(), temp, dir_fd.get(), name.c_str()) != 0) fail("cannot rename file");
  if (open_files_) open_files_->forget(key);
  if (housekeeper_ && FsHousekeeper::is_variant(key)) housekeeper_->written(key, bytes.size());
}

void FsStorage::remove(const std::string& key) {
  auto slash = key.rfind('/');
  std::string dir = slash == std::string::npos ? "." : key.substr(0, slash);
  UniqueFd dir_fd{open_beneath(dir, O_RDONLY | O_DIRECTORY)};
  if (dir_fd.get() < 0) return;
  std::string name = slash == std::string::npos ? key : key.substr(slash + 1);
  if (::unlinkat(dir_fd.get(), name.c_str(), 0) != 0 && errno != ENOENT)
    store_failure("cannot remove object");
  if (open_files_) open_files_->forget(key);
  if (housekeeper_ && FsHousekeeper::is_variant(key)) housekeeper_->removed(key);
}

// A walk of the whole folder, sorted: fine for a warm-up or a page of the playground,
// not for a hot path. Only regular files count (a symlink is not followed out of the root).
ListPage FsStorage::list(const std::string& prefix, const std::string& start_after, std::size_t max_keys) {
  namespace fs = std::filesystem;
  std::vector<std::string> keys;
  std::error_code error;
  fs::recursive_directory_iterator it(root_, fs::directory_options::none, error);
  for (; !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
    const std::string name = it->path().filename().string();
    const auto type = it->symlink_status(error).type();
    if (it.depth() == 0 && name == "_imageflex" && type == fs::file_type::directory) {
      it.disable_recursion_pending();  // the service's own variants
      continue;
    }
    if (type != fs::file_type::regular || name.rfind(".tmp-", 0) == 0) continue;
    std::string key = it->path().lexically_relative(root_).generic_string();
    if (key.rfind(prefix, 0) == 0 && key > start_after) keys.push_back(std::move(key));
  }
  if (error) throw Error(ErrorKind::kStoreUnavailable, "list " + root_ + ": " + error.message());
  std::sort(keys.begin(), keys.end());
  ListPage page;
  if (keys.size() > max_keys) {
    keys.resize(max_keys);
    page.next = keys.empty() ? start_after : keys.back();
  }
  page.keys = std::move(keys);
  return page;
}

}  // namespace imageflex
