#include "storage/open_beneath.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>

#include "common/unique_fd.h"

namespace imageflex {
namespace {

mode_t mode_for(int flags) {
  return (flags & O_CREAT) ? 0644 : 0;
}

// Set once openat2 has answered ENOSYS: it will not appear later in this process.
std::atomic<bool> no_openat2{false};

}  // namespace

int open_beneath(int root_fd, const std::string& path, int flags) {
  if (!no_openat2.load(std::memory_order_relaxed)) {
    struct open_how how {};
    how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
    how.mode = mode_for(flags);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    const int fd = static_cast<int>(::syscall(SYS_openat2, root_fd, path.c_str(), &how, sizeof how));
    if (fd >= 0 || errno != ENOSYS) return fd;
    no_openat2.store(true, std::memory_order_relaxed);
  }
  return open_beneath_by_walk(root_fd, path, flags);
}

int open_beneath_by_walk(int root_fd, const std::string& path, int flags) {
  if (path.empty()) {
    errno = ENOENT;
    return -1;
  }
  if (path.front() == '/') {
    errno = EXDEV;
    return -1;
  }
  // Folders are held as O_PATH descriptors, each opened from the one before it.
  UniqueFd folder;
  int at = root_fd;
  std::string::size_type start = 0;
  while (true) {
    const auto slash = path.find('/', start);
    const std::string name =
        path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (name == "..") {
      errno = EXDEV;
      return -1;
    }
    const bool last = slash == std::string::npos || path.find_first_not_of('/', slash) == std::string::npos;
    if (last) {
      // "a/" and "a/." name the folder itself, as openat2 reads them.
      const bool trailing = slash != std::string::npos;
      const char* final_name = name.empty() || name == "." ? "." : name.c_str();
      return ::openat(at, final_name, flags | O_NOFOLLOW | O_CLOEXEC | (trailing ? O_DIRECTORY : 0),
                      mode_for(flags));
    }
    if (!name.empty() && name != ".") {
      UniqueFd next{::openat(at, name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)};
      if (!next.valid()) return -1;
      folder = std::move(next);
      at = folder.get();
    }
    start = slash + 1;
  }
}

}  // namespace imageflex
