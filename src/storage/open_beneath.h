// Opens a path beneath a folder: neither '..' nor a symlink can leave it. Shared by the
// folder store and its housekeeper.
#pragma once

#include <string>

namespace imageflex {

// A descriptor for PATH (relative to ROOT_FD), or -1 with errno set. Uses openat2 with
// RESOLVE_BENEATH; where the kernel or a sandbox does not offer openat2 (ENOSYS: kernels
// before 5.6, some seccomp profiles and gVisor, valgrind), open_beneath_by_walk.
int open_beneath(int root_fd, const std::string& path, int flags);

// The fallback, one component at a time with O_NOFOLLOW: stricter than openat2's, as it
// refuses every symlink (ELOOP or ENOTDIR), even one that would stay inside; '..' and
// absolute paths are refused with EXDEV, as RESOLVE_BENEATH refuses an escape.
int open_beneath_by_walk(int root_fd, const std::string& path, int flags);

}  // namespace imageflex
