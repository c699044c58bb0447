// HTTP dates: the S3 backend reads Last-Modified with parse_http_date, and responses
// are dated with format_http_date.
#include "common/http_date.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>

namespace imageflex {
namespace {

TEST(HttpDate, ParsesRfc1123) {
  EXPECT_EQ(parse_http_date("Fri, 24 May 2013 00:00:00 GMT"), 1369353600);
  EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
  EXPECT_EQ(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
  EXPECT_EQ(parse_http_date("Wed, 31 Dec 2036 23:59:59 GMT"), 2114380799);
  EXPECT_EQ(parse_http_date("  Tue, 29 Feb 2028 12:00:00 GMT\r\n"), 1835438400);
}

TEST(HttpDate, RejectsOtherForms) {
  EXPECT_EQ(parse_http_date(""), std::nullopt);
  EXPECT_EQ(parse_http_date("2013-05-24T00:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_http_date("Friday, 24-May-13 00:00:00 GMT"), std::nullopt);  // RFC 850
  EXPECT_EQ(parse_http_date("Fri May 24 00:00:00 2013"), std::nullopt);        // asctime
  EXPECT_EQ(parse_http_date("Fri, 24 Foo 2013 00:00:00 GMT"), std::nullopt);
  EXPECT_EQ(parse_http_date("Fri, 24 May 2013 25:00:00 GMT"), std::nullopt);
  EXPECT_EQ(parse_http_date("Fri, 24 May 2013 00:00:00 CET"), std::nullopt);
  EXPECT_EQ(parse_http_date("Fri, 24 May 2013 00:00:00 GMT junk"), std::nullopt);
}

TEST(HttpDate, FormatsImfFixdate) {
  EXPECT_EQ(format_http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(format_http_date(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");  // RFC 9110's example
  EXPECT_EQ(format_http_date(1835438400), "Tue, 29 Feb 2028 12:00:00 GMT");
  EXPECT_EQ(format_http_date(2114380799), "Wed, 31 Dec 2036 23:59:59 GMT");
}

TEST(HttpDate, RoundTrips) {
  for (const std::int64_t seconds :
       {std::int64_t{0}, std::int64_t{951782400}, std::int64_t{1700000000}, std::int64_t{4102444799}}) {
    EXPECT_EQ(parse_http_date(format_http_date(seconds)), seconds) << seconds;
  }
}

}  // namespace
}  // namespace imageflex
