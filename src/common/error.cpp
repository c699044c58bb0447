#include "common/error.h"

namespace imageflex {

int http_status(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kBadRequest: return 400;
    case ErrorKind::kForbidden: return 403;
    case ErrorKind::kNotFound: return 404;
    case ErrorKind::kMethodNotAllowed: return 405;
    case ErrorKind::kTooLarge: return 413;
    case ErrorKind::kUriTooLong: return 414;
    case ErrorKind::kUnsupportedMedia: return 415;
    case ErrorKind::kUnprocessable: return 422;
    case ErrorKind::kOverloaded:
    case ErrorKind::kStoreUnavailable:
    case ErrorKind::kSourceChanged: return 503;
    case ErrorKind::kTimeout: return 504;
    case ErrorKind::kInternal: return 500;
  }
  return 500;
}

}  // namespace imageflex
