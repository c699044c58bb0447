// Opens a path beneath a folder: neither '..' nor a symlink can leave it (openat2 with
// RESOLVE_BENEATH). Shared by the folder store and its housekeeper.
#pragma once

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <string>

namespace imageflex {

// A descriptor for PATH (relative to ROOT_FD), or -1 with errno set.
inline int open_beneath(int root_fd, const std::string& path, int flags) {
  struct open_how how {};
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & O_CREAT) ? 0644 : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  return static_cast<int>(::syscall(SYS_openat2, root_fd, path.c_str(), &how, sizeof how));
}

}  // namespace imageflex
