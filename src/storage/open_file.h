// Objects served from a local file descriptor (storage.h's OpenObject): the folder store's
// own file, or an S3 object spooled into an unnamed temporary file. Both are read a piece
// at a time as the response is sent, at the client's pace.
#pragma once

#include <cstdint>
#include <string>

#include "common/unique_fd.h"
#include "storage/storage.h"

namespace imageflex {

// Up to `length` bytes of `fd` from `offset` into `into`, fewer only at its end. Throws
// Error(ErrorKind::kStoreUnavailable) on an I/O error.
std::size_t read_at(int fd, std::uint64_t offset, char* into, std::size_t length);

// An object in a descriptor the object owns: closed (and an unnamed file freed) when the
// last response reading it lets go.
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

// A temporary file in `dir` that has no name (O_TMPFILE; where the filesystem cannot,
// one made with mkstemp and unlinked at once): nothing is left behind whatever happens to
// the process, and its space is freed when its descriptor closes. Throws
// Error(ErrorKind::kStoreUnavailable) if it cannot be made.
UniqueFd open_spool_file(const std::string& dir);

// Writes all of `data` at the file's offset; throws Error(kStoreUnavailable) on failure
// (a full disk).
void write_all(int fd, const char* data, std::size_t length);

}  // namespace imageflex
