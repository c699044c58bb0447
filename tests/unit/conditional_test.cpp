#include "http/conditional.h"

#include <gtest/gtest.h>

namespace imageflex {
namespace {

struct MatchCase {
  const char* header;
  bool matches_abc;             // does it name "abc"?
  const char* first_for_store;  // the one ETag a store may check itself
};

TEST(ConditionalTest, IfNoneMatchIsParsedOnceForBothUses) {
  const MatchCase table[] = {
      {"", false, ""},
      {"\"abc\"", true, "abc"},
      {"W/\"abc\"", true, "abc"},  // If-None-Match compares weakly
      {" \"xyz\" , \"abc\" ", true, "xyz"},
      {"\"xyz\", W/\"abc\"", true, "xyz"},
      {"*", true, ""},
      {"\"abcd\"", false, "abcd"},
      {"abc", false, ""},  // not a quoted entity tag
      {"\"xyz\"", false, "xyz"},
  };
  for (const auto& row : table) {
    const IfNoneMatch parsed = parse_if_none_match(row.header);
    EXPECT_EQ(parsed.matches("\"abc\""), row.matches_abc) << row.header;
    EXPECT_EQ(parsed.first_unquoted(), row.first_for_store) << row.header;
  }
}

}  // namespace
}  // namespace imageflex
