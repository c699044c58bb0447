// One error type for the whole service: a kind (which maps to one HTTP status,
// http_status() below) and a short reason. The reason is shown to the client for
// every kind but kInternal, whose reason is logged and shown only as "internal error".
#pragma once

#include <stdexcept>
#include <string>

namespace imageflex {

enum class ErrorKind {
  kBadRequest,        // 400: a parameter or path the client got wrong
  kForbidden,         // 403: a signed URL's signature is missing, wrong or expired
  kNotFound,          // 404: no such original
  kMethodNotAllowed,  // 405
  kTooLarge,          // 413: source over the byte, pixel or frame limit
  kUriTooLong,        // 414
  kUnsupportedMedia,  // 415: source format not allowed (or not an image)
  kUnprocessable,     // 422: corrupt or truncated image
  kOverloaded,        // 503 + Retry-After: transform queue full
  kStoreUnavailable,  // 503 + Retry-After: the storage backend failed or is unreachable
  kSourceChanged,     // 503 + Retry-After: the original was replaced while it was read
  kTimeout,           // 504: past the per-request deadline
  kInternal,          // 500: a bug; the reason is logged, never shown
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& reason) : std::runtime_error(reason), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

// The HTTP status for a kind; the single place this mapping lives.
int http_status(ErrorKind kind);

}  // namespace imageflex
