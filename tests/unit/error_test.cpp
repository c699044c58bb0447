#include "common/error.h"

#include <gtest/gtest.h>

namespace imageflex {
namespace {

TEST(ErrorTest, EachKindMapsToItsStatus) {
  const std::pair<ErrorKind, int> table[] = {
      {ErrorKind::kBadRequest, 400},    {ErrorKind::kNotFound, 404},   {ErrorKind::kMethodNotAllowed, 405},
      {ErrorKind::kTooLarge, 413},      {ErrorKind::kUriTooLong, 414}, {ErrorKind::kUnsupportedMedia, 415},
      {ErrorKind::kUnprocessable, 422}, {ErrorKind::kOverloaded, 503}, {ErrorKind::kStoreUnavailable, 503},
      {ErrorKind::kSourceChanged, 503}, {ErrorKind::kTimeout, 504},    {ErrorKind::kInternal, 500},
      {ErrorKind::kForbidden, 403},
  };
  for (const auto& [kind, status] : table) EXPECT_EQ(http_status(kind), status);
}

}  // namespace
}  // namespace imageflex
