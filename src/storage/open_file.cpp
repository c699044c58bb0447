#include "storage/open_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "common/error.h"

namespace imageflex {
namespace {

[[noreturn]] void file_failure(const std::string& what) {
  throw Error(ErrorKind::kStoreUnavailable, "storage error: " + what + " (" + std::strerror(errno) + ")");
}

}  // namespace

std::size_t read_at(int fd, std::uint64_t offset, char* into, std::size_t length) {
  std::size_t done = 0;
  while (done < length) {
    const ssize_t n = ::pread(fd, into + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) file_failure("cannot read object");
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  return done;
}

std::size_t OpenFile::read(std::uint64_t offset, char* into, std::size_t length) const {
  if (offset >= size_) return 0;
  return read_at(file_.get(), offset, into,
                 static_cast<std::size_t>(std::min<std::uint64_t>(length, size_ - offset)));
}

UniqueFd open_spool_file(const std::string& dir) {
  UniqueFd file{::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)};
  if (file.valid()) return file;
  // Filesystems without O_TMPFILE say EOPNOTSUPP (or EISDIR on kernels that predate it).
  if (errno != EOPNOTSUPP && errno != EISDIR) file_failure("cannot make a spool file in " + dir);
  std::string name = dir + "/.imageflex-spool-XXXXXX";
  std::vector<char> path(name.begin(), name.end());
  path.push_back('\0');
  file.reset(::mkostemp(path.data(), O_CLOEXEC));
  if (!file.valid()) file_failure("cannot make a spool file in " + dir);
  ::unlink(path.data());  // nameless from now on: freed when closed
  return file;
}

void write_all(int fd, const char* data, std::size_t length) {
  while (length > 0) {
    const ssize_t n = ::write(fd, data, length);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) file_failure("cannot write a spool file");
    data += n;
    length -= static_cast<std::size_t>(n);
  }
}

}  // namespace imageflex
