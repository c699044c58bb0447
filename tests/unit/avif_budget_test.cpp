// AVIF that never makes a browser wait: the encode-time estimate and the decision to serve
// WebP now and make the AVIF in the background.
#include <gtest/gtest.h>

#include "image/cost.h"
#include "negotiate/avif_budget.h"
#include "sources.h"

namespace imageflex {
namespace {

using test::source_of;

Plan plan_for(const SourceInfo& source, int width) {
  return plan_geometry(source.size, {width, 0, Fit::kCover, false});
}

constexpr AcceptedFormats kBrowser{true, true};  // image/avif,image/webp

TEST(AvifEncodeEstimateTest, FollowsTheMeasurementsInCostCpp) {
  // 4000x2250 at effort 0 measured 1.5-1.6 s of CPU; 1200x675 0.15-0.30 s.
  EXPECT_NEAR(estimate_avif_encode_ms(4000ull * 2250, 0), 1550, 250);
  EXPECT_NEAR(estimate_avif_encode_ms(1200ull * 675, 0), 225, 100);
  // Proportional to pixels, and never cheaper at a higher effort.
  EXPECT_DOUBLE_EQ(estimate_avif_encode_ms(2'000'000, 0), 2 * estimate_avif_encode_ms(1'000'000, 0));
  for (int effort = 1; effort <= 9; ++effort)
    EXPECT_GE(estimate_avif_encode_ms(1'000'000, effort), estimate_avif_encode_ms(1'000'000, effort - 1));
  // Effort 4 took about 5.5 times effort 0 at 1200 px; out-of-range efforts are clamped.
  EXPECT_NEAR(estimate_avif_encode_ms(1'000'000, 4) / estimate_avif_encode_ms(1'000'000, 0), 5.5, 1.0);
  EXPECT_DOUBLE_EQ(estimate_avif_encode_ms(1'000'000, 42), estimate_avif_encode_ms(1'000'000, 9));
  EXPECT_DOUBLE_EQ(estimate_avif_encode_ms(0, 0), 0.0);
}

TEST(AvifBudgetTest, ALargeNegotiatedAvifOverTheBudgetIsServedAsWebpNow) {
  const SourceInfo photo = source_of(Format::kJpeg, 5120, 2880);
  const Plan large = plan_for(photo, 2400);  // ~0.55 s at effort 0
  const auto deferral = defer_avif(Format::kAvif, true, kBrowser, photo, large, 0, 300);
  ASSERT_TRUE(deferral.has_value());
  EXPECT_EQ(deferral->now, Format::kWebp);
  EXPECT_GT(deferral->estimate_ms, 300);
}

TEST(AvifBudgetTest, AvifIsMadeNowWhenItFitsTheBudgetOrIsNotDeferrable) {
  const SourceInfo photo = source_of(Format::kJpeg, 5120, 2880);
  const Plan small = plan_for(photo, 512);
  const Plan large = plan_for(photo, 2400);
  // Within the budget: AVIF now (the default 300 ms keeps 1200 px AVIFs in the foreground).
  EXPECT_FALSE(defer_avif(Format::kAvif, true, kBrowser, photo, small, 0, 300));
  EXPECT_FALSE(defer_avif(Format::kAvif, true, kBrowser, photo, plan_for(photo, 1200), 0, 300));
  // f=avif is an explicit order: made now, however long.
  EXPECT_FALSE(defer_avif(Format::kAvif, false, kBrowser, photo, large, 0, 300));
  // A budget of 0 turns deferral off.
  EXPECT_FALSE(defer_avif(Format::kAvif, true, kBrowser, photo, large, 0, 0));
  // Only AVIF waits: a large WebP or JPEG is made now.
  EXPECT_FALSE(defer_avif(Format::kWebp, true, kBrowser, photo, large, 0, 300));
  EXPECT_FALSE(defer_avif(Format::kJpeg, true, {}, photo, large, 0, 300));
}

TEST(AvifBudgetTest, AHigherEffortDefersSmallerImages) {
  const SourceInfo photo = source_of(Format::kJpeg, 5120, 2880);
  const Plan medium = plan_for(photo, 1200);
  EXPECT_FALSE(defer_avif(Format::kAvif, true, kBrowser, photo, medium, 0, 300));
  EXPECT_TRUE(defer_avif(Format::kAvif, true, kBrowser, photo, medium, 4, 300));
}

}  // namespace
}  // namespace imageflex
