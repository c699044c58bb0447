#include "storage/fs_housekeeper.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "common/thread_name.h"
#include "storage/open_beneath.h"

namespace imageflex {
namespace {

using SteadyClock = std::chrono::steady_clock;

// The variant tree; request/key.h names variants `_imageflex/v2/...` beneath it.
constexpr std::string_view kVariantRoot = "_imageflex";
constexpr std::string_view kTempPrefix = ".tmp-";  // FsStorage::put writes here, then renames
// Fresh temporaries remembered for a second look; beyond this, the next sweep finds them.
constexpr std::size_t kMaxPendingTemps = 10000;
// A store hit rewrites the file's atime only when it is older than this: one inode
// update per variant per minute at most, precise enough for "least recently used".
constexpr std::int64_t kAtimeResolutionNs = 60'000'000'000;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t ns_of(const struct timespec& t) {
  return t.tv_sec * 1'000'000'000LL + t.tv_nsec;
}

// When a file was last used: written (mtime) or served (atime, set by served()).
std::int64_t last_used_ns(const struct stat& st) {
  return std::max(ns_of(st.st_atim), ns_of(st.st_mtim));
}

bool is_temp(const char* name) {
  return std::string_view(name).substr(0, kTempPrefix.size()) == kTempPrefix;
}

}  // namespace

FsHousekeeper::FsHousekeeper(int root_fd, FsHousekeeping settings,
                             std::function<void(const std::string&)> evicted)
    : root_fd_(::fcntl(root_fd, F_DUPFD_CLOEXEC, 0)),
      settings_(settings),
      evicted_(std::move(evicted)),
      low_water_(settings.quota_bytes / 10 * 9) {
  thread_ = std::thread([this] {
    name_this_thread("if-housekeeper");
    run();
  });
}

FsHousekeeper::~FsHousekeeper() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

bool FsHousekeeper::is_variant(const std::string& key) {
  return key.size() > kVariantRoot.size() && key.compare(0, kVariantRoot.size(), kVariantRoot) == 0 &&
         key[kVariantRoot.size()] == '/';
}

void FsHousekeeper::written(const std::string& key, std::uint64_t size) {
  if (settings_.quota_bytes != 0) use(key, size);
}

void FsHousekeeper::removed(const std::string& key) {
  if (settings_.quota_bytes == 0) return;
  std::lock_guard lock(mutex_);
  index_.forget(key);
}

void FsHousekeeper::served(const std::string& key, int fd, const struct stat& st) {
  if (settings_.quota_bytes == 0) return;
  const std::int64_t now = now_ns();
  use(key, static_cast<std::uint64_t>(st.st_size));
  if (now - ns_of(st.st_atim) > kAtimeResolutionNs) {
    // Best effort: the atime is only this process's hint to later scans.
    const struct timespec times[2] = {{now / 1'000'000'000, now % 1'000'000'000}, {0, UTIME_OMIT}};
    ::futimens(fd, times);
  }
}

void FsHousekeeper::use(const std::string& key, std::uint64_t size) {
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    index_.touch(key, size, now_ns());
    if (index_.used_bytes() > settings_.quota_bytes && !over_quota_) wake = over_quota_ = true;
  }
  if (wake) wake_.notify_all();
}

std::vector<std::pair<std::string, std::uint64_t>> FsHousekeeper::stats() const {
  std::vector<std::pair<std::string, std::uint64_t>> stats;
  if (settings_.quota_bytes != 0) {
    std::lock_guard lock(mutex_);
    stats.emplace_back("store_quota_bytes", settings_.quota_bytes);
    stats.emplace_back("store_variant_bytes", index_.used_bytes());
    stats.emplace_back("store_variants", index_.count());
    stats.emplace_back("store_evictions", evictions_.load());
    stats.emplace_back("store_evicted_bytes", evicted_bytes_.load());
  }
  stats.emplace_back("store_temps_removed", temps_removed_.load());
  stats.emplace_back("store_sweeps", sweeps_.load());
  return stats;
}

void FsHousekeeper::run() {
  auto next_sweep = SteadyClock::now();
  while (true) {
    if (SteadyClock::now() >= next_sweep) {
      sweep();
      next_sweep = SteadyClock::now() + settings_.sweep_interval;
    }
    evict();
    check_pending_temps();
    std::unique_lock lock(mutex_);
    auto until = next_sweep;
    for (const auto& temp : pending_) until = std::min(until, temp.due);
    wake_.wait_until(lock, until, [&] { return stopping_ || over_quota_; });
    if (stopping_) return;
    over_quota_ = false;
  }
}

void FsHousekeeper::sweep() {
  const auto started = SteadyClock::now();
  const std::int64_t started_ns = now_ns();
  const std::uint64_t round = sweeps_ + 1;
  const std::uint64_t temps_before = temps_removed_;
  UniqueFd top{open_beneath(root_fd_.get(), std::string(kVariantRoot), O_RDONLY | O_DIRECTORY | O_NOFOLLOW)};
  if (top.valid()) walk(top.get(), std::string(kVariantRoot), round, started_ns);
  if (stopping_) return;
  std::size_t dropped = 0;
  if (settings_.quota_bytes != 0) {
    std::lock_guard lock(mutex_);
    dropped = index_.drop_unseen(round, started_ns);
  }
  sweeps_ = round;
  std::string summary =
      "variant store swept in " +
      std::to_string(
          std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - started).count()) +
      " ms: " + std::to_string(temps_removed_ - temps_before) + " stale temporaries removed";
  if (settings_.quota_bytes != 0) {
    std::lock_guard lock(mutex_);
    summary += ", " + std::to_string(index_.count()) + " variants, " + std::to_string(index_.used_bytes()) +
               " bytes (quota " + std::to_string(settings_.quota_bytes) + "), " + std::to_string(dropped) +
               " gone since the last sweep";
  }
  log_event("info", summary);
}

// Visits every entry beneath DIR_FD (the folder PATH), depth first, so a folder emptied
// below is seen empty on the way back up.
void FsHousekeeper::walk(int dir_fd, const std::string& path, std::uint64_t round, std::int64_t now_ns) {
  int own = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
  DIR* dir = own < 0 ? nullptr : ::fdopendir(own);
  if (dir == nullptr) {
    if (own >= 0) ::close(own);
    return;
  }
  while (const dirent* entry = ::readdir(dir)) {
    if (stopping_) break;
    const char* name = entry->d_name;
    if (std::strcmp(name, ".") == 0 || std::strcmp(name, "..") == 0) continue;
    // Without a quota only temporaries matter: no stat for the (many) variants.
    if (entry->d_type == DT_REG && settings_.quota_bytes == 0 && !is_temp(name)) continue;
    struct stat st {};
    if (::fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone meanwhile
    if (S_ISDIR(st.st_mode)) {
      UniqueFd child{::openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)};
      if (!child.valid()) continue;
      walk(child.get(), path + "/" + name, round, now_ns);
      // A folder emptied by eviction or by a crash; one that was just made for a put is
      // young, and a put that loses this race makes it again (FsStorage::put).
      struct stat now_st {};
      if (::fstat(child.get(), &now_st) == 0 && now_st.st_nlink <= 2 &&
          now_ns - ns_of(now_st.st_mtim) > std::chrono::nanoseconds(settings_.temp_max_age).count()) {
        ::unlinkat(dir_fd, name, AT_REMOVEDIR);  // fails harmlessly if it is not empty
      }
    } else if (S_ISREG(st.st_mode)) {
      if (is_temp(name)) {
        remove_if_stale(dir_fd, path, name, st, now_ns);
      } else if (settings_.quota_bytes != 0) {
        std::lock_guard lock(mutex_);
        index_.seen(path + "/" + name, static_cast<std::uint64_t>(st.st_size), last_used_ns(st), round);
      }
    }
  }
  ::closedir(dir);
}

void FsHousekeeper::remove_if_stale(int dir_fd, const std::string& dir, const char* name,
                                    const struct stat& st, std::int64_t now_ns) {
  const auto age = std::chrono::nanoseconds(now_ns - ns_of(st.st_mtim));
  if (age > settings_.temp_max_age) {
    if (::unlinkat(dir_fd, name, 0) == 0) temps_removed_++;
    return;
  }
  // Perhaps another process's write in progress: look again once it would be stale.
  std::lock_guard lock(mutex_);
  if (pending_.size() < kMaxPendingTemps) {
    pending_.push_back({dir + "/" + name, SteadyClock::now() + (settings_.temp_max_age - age) +
                                              std::chrono::milliseconds(100)});
  }
}

void FsHousekeeper::check_pending_temps() {
  std::vector<PendingTemp> due;
  {
    std::lock_guard lock(mutex_);
    const auto now = SteadyClock::now();
    auto split = std::partition(pending_.begin(), pending_.end(), [&](const auto& t) { return t.due > now; });
    due.assign(std::make_move_iterator(split), std::make_move_iterator(pending_.end()));
    pending_.erase(split, pending_.end());
  }
  for (const auto& temp : due) {
    auto slash = temp.path.rfind('/');
    UniqueFd dir{open_beneath(root_fd_.get(), temp.path.substr(0, slash), O_RDONLY | O_DIRECTORY)};
    const std::string name = temp.path.substr(slash + 1);
    struct stat st {};
    if (!dir.valid() || ::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
      continue;  // renamed
    if (S_ISREG(st.st_mode))
      remove_if_stale(dir.get(), temp.path.substr(0, slash), name.c_str(), st, now_ns());
  }
}

void FsHousekeeper::evict() {
  if (settings_.quota_bytes == 0) return;
  std::vector<LruIndex::Victim> victims;
  {
    std::lock_guard lock(mutex_);
    if (index_.used_bytes() > settings_.quota_bytes) victims = index_.take_oldest(low_water_);
  }
  for (const auto& victim : victims) {
    {
      std::lock_guard lock(mutex_);
      if (index_.contains(victim.key) || stopping_) continue;  // used again since it was chosen
    }
    remove_variant(victim.key);
    if (evicted_) evicted_(victim.key);
    evictions_++;
    evicted_bytes_ += victim.size;
  }
}

void FsHousekeeper::remove_variant(const std::string& key) {
  // Each folder is opened beneath the root, so a symlink planted in the tree cannot
  // point the deletion elsewhere; a file or folder already gone is fine.
  auto unlink_beneath = [&](const std::string& path, int flags) {
    auto slash = path.rfind('/');
    UniqueFd parent{open_beneath(root_fd_.get(), path.substr(0, slash), O_RDONLY | O_DIRECTORY)};
    return parent.valid() && ::unlinkat(parent.get(), path.c_str() + slash + 1, flags) == 0;
  };
  if (!unlink_beneath(key, 0)) return;
  // Then its folders while they are empty (rmdir refuses one that is not), up to the root
  // of the tree. A put that loses this race makes its folders again (FsStorage::put).
  for (std::string dir = key.substr(0, key.rfind('/')); dir != kVariantRoot; dir.resize(dir.rfind('/'))) {
    if (!unlink_beneath(dir, AT_REMOVEDIR)) return;
  }
}

}  // namespace imageflex
