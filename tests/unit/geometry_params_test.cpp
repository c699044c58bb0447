// Issue 11's geometry parameters: parsing (every bad value a 400 naming the parameter
// and its range), key equivalence after normalisation, and the plans they make.
#include <gtest/gtest.h>

#include "common/error.h"
#include "image/geometry.h"
#include "request/image_request.h"
#include "request/key.h"
#include "request/normalise.h"

namespace imageflex {
namespace {

constexpr int kMax = 8192;

struct BadValue {
  const char* query;
  const char* names;  // the message names the parameter and what it accepts
};

TEST(GeometryParamsTest, BadValuesAre400sNamingTheParameterAndRange) {
  const BadValue table[] = {
      {"pos=middle", "pos must be center"},
      {"pos=", "pos must be center"},
      {"fp=0.5", "fp must be X,Y"},
      {"fp=0.5,1.5", "fp must be X,Y with each a fraction from 0 to 1"},
      {"fp=-0.1,0.5", "fp must be X,Y"},
      {"fp=0.5,0.5,0.5", "fp must be X,Y"},
      {"fp=nan,0.5", "fp must be X,Y"},
      {"fp=1e-1,0.5", "fp must be X,Y"},
      {"dpr=0.5", "dpr must be a number from 1 to 4"},
      {"dpr=4.01", "dpr must be a number from 1 to 4"},
      {"dpr=two", "dpr must be a number from 1 to 4"},
      {"w=5000&dpr=2", "dpr makes w or h larger than 8192"},
      {"bg=ff", "bg must be a hex colour"},
      {"bg=gggggg", "bg must be a hex colour"},
      {"bg=fffffff", "bg must be a hex colour"},
      {"rotate=45", "rotate must be 0, 90, 180 or 270"},
      {"rotate=-90", "rotate must be 0, 90, 180 or 270"},
      {"flip=yes", "flip must be true or false"},
      {"flop=2", "flop must be true or false"},
      {"crop=0,0,10", "crop must be x,y,w,h"},
      {"crop=0,0,0,10", "crop must be x,y,w,h"},
      {"crop=0.5,0,10,10", "crop must be x,y,w,h in whole source pixels"},
      {"crop=0,0,10,10,1", "crop must be x,y,w,h"},
      {"w=100&h=100&pos=top&fp=0.5,0.5", "pos and fp cannot be given together"},
  };
  for (const auto& row : table) {
    try {
      parse_request(std::string("/p.jpg?") + row.query, kMax);
      ADD_FAILURE() << row.query << " parsed";
    } catch (const Error& error) {
      EXPECT_EQ(error.kind(), ErrorKind::kBadRequest) << row.query;
      EXPECT_NE(std::string(error.what()).find(row.names), std::string::npos)
          << row.query << ": " << error.what();
    }
  }
}

TEST(GeometryParamsTest, ParsesEveryValueSpelling) {
  auto r = parse_request(
      "/p.jpg?w=100&h=50&pos=bottom-right&dpr=1.5&rotate=270&flip=1&flop=true&crop=1,2,30,40", kMax);
  EXPECT_EQ(r.geometry.width, 150);
  EXPECT_EQ(r.geometry.height, 75);
  EXPECT_EQ(r.geometry.focus_x, 1.0);
  EXPECT_EQ(r.geometry.focus_y, 1.0);
  EXPECT_EQ(r.geometry.rotate, 270);
  EXPECT_TRUE(r.geometry.flip && r.geometry.flop);
  EXPECT_EQ(r.geometry.region, (Region{1, 2, 30, 40}));
  EXPECT_EQ(r.dpr, 1.5);
}

TEST(GeometryParamsTest, BackgroundSpellings) {
  EXPECT_EQ(parse_request("/p.jpg?bg=0f8", kMax).geometry.background, (Rgba{0x00, 0xff, 0x88, 0xff}));
  EXPECT_EQ(parse_request("/p.jpg?bg=00FF88", kMax).geometry.background, (Rgba{0x00, 0xff, 0x88, 0xff}));
  EXPECT_EQ(parse_request("/p.jpg?bg=00ff8880", kMax).geometry.background, (Rgba{0x00, 0xff, 0x88, 0x80}));
  EXPECT_TRUE(parse_request("/p.jpg?rotate=90", kMax).wants_variant());
  EXPECT_TRUE(parse_request("/p.jpg?flop=1", kMax).wants_variant());
  EXPECT_FALSE(parse_request("/p.jpg?rotate=0", kMax).wants_variant());
  EXPECT_EQ(parse_request("/p.jpg?pos=attention", kMax).geometry.focus, Focus::kAttention);
  EXPECT_EQ(parse_request("/p.jpg?pos=entropy", kMax).geometry.focus, Focus::kEntropy);
}

std::string key_of(const std::string& target, SourceInfo source = {Format::kJpeg, {1000, 800}}) {
  const ImageRequest parsed = parse_request(target, kMax);
  return variant_key(normalise_request(parsed, source, {}, Quality{}), "etag", {}, Quality{});
}

struct Equivalent {
  const char* a;
  const char* b;
};

TEST(GeometryParamsTest, EquivalentUrlsAreOneVariant) {
  const Equivalent same[] = {
      {"/p.jpg?w=300&dpr=2", "/p.jpg?w=600"},
      {"/p.jpg?w=300&h=200&dpr=1.5", "/p.jpg?w=450&h=300"},
      {"/p.jpg?w=300&dpr=1", "/p.jpg?w=300"},
      {"/p.jpg?w=300&rotate=0", "/p.jpg?w=300"},
      {"/p.jpg?w=300&flip=0&flop=false", "/p.jpg?w=300"},
      {"/p.jpg?w=300&pos=top", "/p.jpg?w=300"},  // nothing cut: pos ignored
      {"/p.jpg?w=300&h=200&fit=contain&pos=top", "/p.jpg?w=300&h=200&fit=contain"},
      {"/p.jpg?w=300&h=300&pos=center", "/p.jpg?w=300&h=300"},
      {"/p.jpg?w=300&h=300&fp=0.5,0.5", "/p.jpg?w=300&h=300"},
      {"/p.jpg?w=300&h=300&fp=0.5,0.9", "/p.jpg?w=300&h=300"},             // the cut is across x only
      {"/p.jpg?w=300&h=300&pos=top-left", "/p.jpg?w=300&h=300&pos=left"},  // likewise
      {"/p.jpg?w=300&h=300&fp=0,0.2", "/p.jpg?w=300&h=300&pos=left"},
      {"/p.jpg?w=300&h=300&pos=attention&fit=inside", "/p.jpg?w=300&h=300&fit=inside"},
      {"/p.jpg?w=300&bg=ff0000", "/p.jpg?w=300"},  // no letterbox, no alpha
      {"/p.jpg?w=300&h=300&fit=contain&bg=fff", "/p.jpg?w=300&h=300&fit=contain"},
      {"/p.jpg?w=300&h=300&fp=0.99,0.5", "/p.jpg?w=300&h=300&pos=right"},  // clamped to the edge
      {"/p.jpg?crop=0,0,1000,800", "/p.jpg?crop=0,0,1000,800&w=1000"},
  };
  for (const auto& row : same) EXPECT_EQ(key_of(row.a), key_of(row.b)) << row.a << " vs " << row.b;
}

TEST(GeometryParamsTest, DifferentOutputsAreDifferentVariants) {
  const Equivalent different[] = {
      {"/p.jpg?w=300&h=300&pos=right", "/p.jpg?w=300&h=300"},
      {"/p.jpg?w=300&h=300&pos=attention", "/p.jpg?w=300&h=300"},
      {"/p.jpg?w=300&h=300&pos=attention", "/p.jpg?w=300&h=300&pos=entropy"},
      {"/p.jpg?w=300&rotate=90", "/p.jpg?w=300"},
      {"/p.jpg?w=300&rotate=90", "/p.jpg?w=300&rotate=270"},
      {"/p.jpg?w=300&flip=1", "/p.jpg?w=300&flop=1"},
      {"/p.jpg?w=300&h=300&fit=contain&bg=ff0000", "/p.jpg?w=300&h=300&fit=contain"},
      {"/p.jpg?crop=0,0,100,100", "/p.jpg?crop=1,0,100,100"},
      {"/p.jpg?w=300&dpr=2", "/p.jpg?w=300"},
  };
  for (const auto& row : different) EXPECT_NE(key_of(row.a), key_of(row.b)) << row.a << " vs " << row.b;
  // Alpha flattened into JPEG shows the background.
  const SourceInfo alpha{Format::kPng, {1000, 800}, 1, true};
  EXPECT_NE(key_of("/p.png?w=300&f=jpeg&bg=ff0000", alpha), key_of("/p.png?w=300&f=jpeg", alpha));
}

TEST(GeometryParamsTest, ARegionOutsideTheImageIsA400) {
  for (const char* target :
       {"/p.jpg?crop=900,0,101,10", "/p.jpg?crop=0,790,10,11", "/p.jpg?crop=1000,0,1,1"}) {
    try {
      key_of(target);
      ADD_FAILURE() << target;
    } catch (const Error& error) {
      EXPECT_EQ(error.kind(), ErrorKind::kBadRequest) << target;
      EXPECT_NE(std::string(error.what()).find("crop must lie inside the image, which is 1000x800"),
                std::string::npos);
    }
  }
  EXPECT_NO_THROW(key_of("/p.jpg?crop=900,790,100,10"));
}

}  // namespace
}  // namespace imageflex
