#include "common/log.h"

#include <gtest/gtest.h>

#include <chrono>

namespace imageflex {
namespace {

using std::chrono::seconds;

TEST(RepeatFilterTest, FirstOccurrenceThenOneSummaryPerInterval) {
  RepeatFilter filter(seconds(60));
  const auto start = RepeatFilter::Clock::time_point{};
  EXPECT_EQ(filter.admit("TIFFReadDirectory: unknown tag", start), "TIFFReadDirectory: unknown tag");
  for (int i = 1; i <= 1329; ++i) {
    EXPECT_EQ(filter.admit("TIFFReadDirectory: unknown tag", start + seconds(i % 60)), std::nullopt) << i;
  }
  EXPECT_EQ(filter.admit("TIFFReadDirectory: unknown tag", start + seconds(61)),
            "TIFFReadDirectory: unknown tag (repeated 1330 times in the last 61 s)");
  EXPECT_EQ(filter.admit("TIFFReadDirectory: unknown tag", start + seconds(62)), std::nullopt);
  // Quiet for an interval: the next one is logged as it is.
  EXPECT_EQ(filter.admit("other", start + seconds(200)), "other");
  EXPECT_EQ(filter.admit("other", start + seconds(300)), "other");
}

TEST(RepeatFilterTest, MessagesThatDifferOnlyInNumbersAreOne) {
  RepeatFilter filter(seconds(60));
  const auto now = RepeatFilter::Clock::time_point{};
  EXPECT_EQ(filter.admit("error in tile 0 x 0", now), "error in tile 0 x 0");
  EXPECT_EQ(filter.admit("error in tile 0 x 8", now), std::nullopt);
  EXPECT_EQ(filter.admit("error in tile 16 x 128", now), std::nullopt);
  EXPECT_EQ(filter.admit("error in strip 3", now), "error in strip 3");
}

TEST(RepeatFilterTest, TheTableIsBounded) {
  RepeatFilter filter(seconds(60), 2);
  const auto start = RepeatFilter::Clock::time_point{};
  EXPECT_TRUE(filter.admit("a", start));
  EXPECT_TRUE(filter.admit("b", start));
  EXPECT_EQ(filter.admit("c", start + seconds(1)), std::nullopt) << "full of messages seen this interval";
  EXPECT_EQ(filter.admit("c", start + seconds(61)), "c") << "quiet ones are forgotten to make room";
}

}  // namespace
}  // namespace imageflex
