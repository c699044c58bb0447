#include "image/geometry.h"

#include <gtest/gtest.h>

namespace imageflex {
namespace {

struct GeometryCase {
  const char* name;
  Size source;
  GeometryRequest request;
  Plan expected;
};

TEST(GeometryTest, Table) {
  const GeometryCase table[] = {
      {"format only keeps the size",
       {640, 480},
       {0, 0, Fit::kCover, false},
       {{640, 480}, {640, 480}, {640, 480}}},
      {"width only keeps aspect",
       {640, 480},
       {320, 0, Fit::kCover, false},
       {{320, 240}, {320, 240}, {320, 240}}},
      {"height only keeps aspect",
       {640, 480},
       {0, 120, Fit::kCover, false},
       {{160, 120}, {160, 120}, {160, 120}}},
      {"width beyond source: no enlarge",
       {640, 480},
       {1280, 0, Fit::kCover, false},
       {{640, 480}, {640, 480}, {640, 480}}},
      {"width beyond source, enlarge",
       {640, 480},
       {1280, 0, Fit::kCover, true},
       {{1280, 960}, {1280, 960}, {1280, 960}}},
      {"cover crops the overflow",
       {900, 300},
       {200, 200, Fit::kCover, false},
       {{600, 200}, {200, 200}, {200, 200}}},
      {"cover, tall box", {640, 480}, {100, 400, Fit::kCover, false}, {{533, 400}, {100, 400}, {100, 400}}},
      {"cover beyond source crops without enlarging",
       {640, 480},
       {1000, 100, Fit::kCover, false},
       {{640, 480}, {640, 100}, {640, 100}}},
      {"contain letterboxes",
       {900, 300},
       {200, 200, Fit::kContain, false},
       {{200, 67}, {200, 67}, {200, 200}}},
      {"inside fits within", {900, 300}, {200, 200, Fit::kInside, false}, {{200, 67}, {200, 67}, {200, 67}}},
      {"fill stretches", {900, 300}, {200, 200, Fit::kFill, false}, {{200, 200}, {200, 200}, {200, 200}}},
      {"fill never enlarges a side",
       {100, 100},
       {200, 50, Fit::kFill, false},
       {{100, 50}, {100, 50}, {100, 50}}},
      {"fill with enlarge", {100, 100}, {200, 50, Fit::kFill, true}, {{200, 50}, {200, 50}, {200, 50}}},
      {"tiny results stay at least 1px",
       {10000, 10},
       {100, 0, Fit::kCover, false},
       {{100, 1}, {100, 1}, {100, 1}}},
      {"exact size is a no-op",
       {300, 200},
       {300, 200, Fit::kCover, false},
       {{300, 200}, {300, 200}, {300, 200}}},
  };
  for (const auto& row : table) {
    Plan plan = plan_geometry(row.source, row.request);
    EXPECT_EQ(plan.resize, row.expected.resize) << row.name;
    EXPECT_EQ(plan.crop, row.expected.crop) << row.name;
    EXPECT_EQ(plan.canvas, row.expected.canvas) << row.name;
  }
}

}  // namespace
}  // namespace imageflex
