// The shared string helpers: ETag quoting (S3 requests, responses) and hex encoding
// (hashes, SigV4 signatures).
#include <gtest/gtest.h>

#include <string>

#include "common/hash.h"
#include "common/text.h"

namespace imageflex {
namespace {

TEST(QuoteEtag, AddsQuotesOnlyWhereMissing) {
  EXPECT_EQ(quote_etag("abc123"), "\"abc123\"");
  EXPECT_EQ(quote_etag("\"abc123\""), "\"abc123\"");
  EXPECT_EQ(quote_etag("W/\"abc\""), "W/\"abc\"");
  EXPECT_EQ(quote_etag("*"), "*");
  EXPECT_EQ(quote_etag(""), "\"\"");
}

TEST(QuoteEtag, UnquoteUndoesIt) {
  EXPECT_EQ(unquote_etag("\"abc123\""), "abc123");
  EXPECT_EQ(unquote_etag("  \"abc123\"\r\n"), "abc123");
  EXPECT_EQ(unquote_etag("abc123"), "abc123");
  EXPECT_EQ(unquote_etag("\""), "\"");  // a lone quote is not a pair
  for (const std::string etag : {"abc", "0123456789abcdef-2", ""}) {
    EXPECT_EQ(unquote_etag(quote_etag(etag)), etag);
  }
}

TEST(HexEncode, LowerCaseTwoDigitsAByte) {
  const unsigned char bytes[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
  EXPECT_EQ(hex_encode(bytes, sizeof bytes), "00017f80abff");
  EXPECT_EQ(hex_encode(bytes, 0), "");
}

}  // namespace
}  // namespace imageflex
