#include "image/geometry.h"

#include <gtest/gtest.h>

#include "request/image_request.h"

namespace imageflex {
namespace {

struct Sizes {
  Size resize;
  Size crop;
  Size canvas;
};

struct GeometryCase {
  const char* name;
  Size source;
  GeometryRequest request;
  Sizes expected;
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

// Issue 11: region, rotation and focus, each row one plan.
struct PlacedCase {
  const char* name;
  Size source;
  GeometryRequest request;
  Region region;
  Size resize;
  Size crop;
  Point origin;
};

GeometryRequest with(int width, int height, void (*set)(GeometryRequest&)) {
  GeometryRequest request{width, height};
  set(request);
  return request;
}

TEST(GeometryTest, RegionsRotationAndFocus) {
  const PlacedCase table[] = {
      {"centre cut, rounded down",
       {900, 300},
       {201, 200},
       {0, 0, 900, 300},
       {600, 200},
       {201, 200},
       {199, 0}},
      {"focal point left",
       {900, 300},
       with(200, 200, [](GeometryRequest& r) { r.focus_x = 0; }),
       {0, 0, 900, 300},
       {600, 200},
       {200, 200},
       {0, 0}},
      {"focal point right",
       {900, 300},
       with(200, 200, [](GeometryRequest& r) { r.focus_x = 1; }),
       {0, 0, 900, 300},
       {600, 200},
       {200, 200},
       {400, 0}},
      {"focal point centred on it",
       {900, 300},
       with(200, 200, [](GeometryRequest& r) { r.focus_x = 0.25; }),
       {0, 0, 900, 300},
       {600, 200},
       {200, 200},
       {50, 0}},
      {"focal point bottom of a tall picture",
       {300, 900},
       with(200, 200, [](GeometryRequest& r) { r.focus_y = 1; }),
       {0, 0, 300, 900},
       {200, 600},
       {200, 200},
       {0, 400}},
      {"smart focus is placed by libvips",
       {900, 300},
       with(200, 200, [](GeometryRequest& r) { r.focus = Focus::kAttention; }),
       {0, 0, 900, 300},
       {600, 200},
       {200, 200},
       {0, 0}},
      {"rotate 90 swaps the sides",
       {640, 480},
       with(240, 0, [](GeometryRequest& r) { r.rotate = 90; }),
       {0, 0, 640, 480},
       {240, 320},
       {240, 320},
       {0, 0}},
      {"rotate 180 keeps them",
       {640, 480},
       with(320, 0, [](GeometryRequest& r) { r.rotate = 180; }),
       {0, 0, 640, 480},
       {320, 240},
       {320, 240},
       {0, 0}},
      {"rotate 270 and cover",
       {900, 300},
       with(200, 200, [](GeometryRequest& r) { r.rotate = 270; }),
       {0, 0, 900, 300},
       {200, 600},
       {200, 200},
       {0, 200}},
      {"region alone",
       {640, 480},
       with(0, 0,
            [](GeometryRequest& r) {
              r.region = Region{10, 20, 100, 50};
            }),
       {10, 20, 100, 50},
       {100, 50},
       {100, 50},
       {0, 0}},
      {"region then width",
       {640, 480},
       with(50, 0,
            [](GeometryRequest& r) {
              r.region = Region{10, 20, 100, 50};
            }),
       {10, 20, 100, 50},
       {50, 25},
       {50, 25},
       {0, 0}},
      {"region never enlarged",
       {640, 480},
       with(500, 0,
            [](GeometryRequest& r) {
              r.region = Region{0, 0, 100, 50};
            }),
       {0, 0, 100, 50},
       {100, 50},
       {100, 50},
       {0, 0}},
      {"region then rotate",
       {640, 480},
       with(0, 0,
            [](GeometryRequest& r) {
              r.region = Region{0, 0, 100, 50};
              r.rotate = 270;
            }),
       {0, 0, 100, 50},
       {50, 100},
       {50, 100},
       {0, 0}},
  };
  for (const auto& row : table) {
    const Plan plan = plan_geometry(row.source, row.request);
    EXPECT_EQ(plan.region, row.region) << row.name;
    EXPECT_EQ(plan.resize, row.resize) << row.name;
    EXPECT_EQ(plan.crop, row.crop) << row.name;
    EXPECT_EQ(plan.crop_origin, row.origin) << row.name;
    EXPECT_EQ(plan.rotate, row.request.rotate) << row.name;
  }
}

TEST(GeometryTest, RegionInside) {
  const Size source{100, 50};
  auto inside = [&](Region region) {
    GeometryRequest request;
    request.region = region;
    return region_inside(source, request);
  };
  EXPECT_TRUE(region_inside(source, {}));
  EXPECT_TRUE(inside({0, 0, 100, 50}));
  EXPECT_TRUE(inside({99, 49, 1, 1}));
  EXPECT_FALSE(inside({1, 0, 100, 50}));
  EXPECT_FALSE(inside({0, 1, 100, 50}));
  EXPECT_FALSE(inside({100, 0, 1, 1}));
}

TEST(GeometryTest, DprIsAppliedBeforeTheBounds) {
  EXPECT_EQ(apply_dpr(300, 2.0, 8192), 600);
  EXPECT_EQ(apply_dpr(0, 3.0, 8192), 0);
  EXPECT_EQ(apply_dpr(333, 1.5, 8192), 500);  // 499.5 rounds up
  EXPECT_EQ(apply_dpr(4097, 2.0, 8192), -1);
  EXPECT_EQ(apply_dpr(4096, 2.0, 8192), 8192);
}

}  // namespace
}  // namespace imageflex
