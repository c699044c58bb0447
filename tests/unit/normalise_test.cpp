// normalise_request: requests whose outputs are identical become one request (one key);
// requests whose outputs differ stay apart.
#include <gtest/gtest.h>

#include "request/key.h"
#include "request/normalise.h"
#include "sources.h"

namespace imageflex {
namespace {

using test::source_of;

std::string key_of(const std::string& target, const SourceInfo& source, AcceptedFormats accepted = {}) {
  const ImageRequest normal = normalise_request(parse_request(target, 8192), source, accepted, Quality{});
  return variant_key(normal, "etag", {}, Quality{});
}

TEST(NormaliseTest, TheFormatIsTheOneServed) {
  const SourceInfo source = source_of(Format::kJpeg, 1200, 800);
  const ImageRequest normal =
      normalise_request(parse_request("/a.jpg?w=300", 8192), source, {true, true}, {});
  ASSERT_TRUE(normal.format.has_value());
  EXPECT_EQ(*normal.format, Format::kAvif);
  // AVIF alone is served like no modern format at all: the original's JPEG.
  EXPECT_EQ(key_of("/a.jpg?w=300", source, {true, false}), key_of("/a.jpg?w=300", source, {false, false}));
  EXPECT_EQ(key_of("/a.jpg?w=300", source, {false, false}), key_of("/a.jpg?w=300&f=jpeg", source));
  EXPECT_EQ(key_of("/a.jpg?w=300", source, {true, true}), key_of("/a.jpg?w=300&f=avif", source));
  EXPECT_NE(key_of("/a.jpg?w=300", source, {true, true}), key_of("/a.jpg?w=300", source, {false, true}));
}

TEST(NormaliseTest, QualityIsDroppedForLosslessOutputsOnly) {
  const SourceInfo source = source_of(Format::kJpeg, 1200, 800);
  EXPECT_EQ(key_of("/a.jpg?w=300&f=png&q=50", source), key_of("/a.jpg?w=300&f=png&q=90", source));
  EXPECT_EQ(key_of("/a.jpg?w=300&f=gif&q=50", source), key_of("/a.jpg?w=300&f=gif", source));
  EXPECT_NE(key_of("/a.jpg?w=300&f=webp&q=50", source), key_of("/a.jpg?w=300&f=webp&q=90", source));
  EXPECT_EQ(key_of("/a.jpg?w=300&f=webp&q=86", source), key_of("/a.jpg?w=300&f=webp", source))
      << "the default quality is the default";
  SourceInfo png = source;
  png.format = Format::kPng;
  EXPECT_EQ(key_of("/a.png?w=300&q=20", png), key_of("/a.png?w=300&q=95", png)) << "PNG chosen for a PNG";
}

// Every normalised geometry must plan exactly what the request planned: the pipeline
// reads the geometry only through plan_geometry, so equal plans are equal outputs.
TEST(NormaliseTest, GeometryKeepsThePlanInEveryCase) {
  const Size sources[] = {{1200, 800}, {800, 1200}, {640, 640}, {1, 1}, {3000, 7}};
  const int sides[] = {0, 1, 7, 300, 640, 800, 1199, 1200, 1201, 2400, 8192};
  const Fit fits[] = {Fit::kCover, Fit::kContain, Fit::kInside, Fit::kFill};
  for (Size size : sources) {
    SourceInfo source = source_of(Format::kJpeg, size.width, size.height);
    for (int w : sides) {
      for (int h : sides) {
        for (Fit fit : fits) {
          for (bool enlarge : {false, true}) {
            ImageRequest request;
            request.key = "a.jpg";
            request.geometry = {w, h, fit, enlarge};
            const ImageRequest normal = normalise_request(request, source, {}, {});
            ASSERT_EQ(plan_geometry(size, normal.geometry), plan_geometry(size, request.geometry))
                << size.width << "x" << size.height << " w=" << w << " h=" << h
                << " fit=" << static_cast<int>(fit) << " enlarge=" << enlarge;
          }
        }
      }
    }
  }
}

TEST(NormaliseTest, SidesAtOrBeyondTheOriginalWithoutEnlargeAreTheOriginal) {
  const SourceInfo source = source_of(Format::kJpeg, 1200, 800);
  const std::string original_size = key_of("/a.jpg?f=webp", source);
  EXPECT_EQ(key_of("/a.jpg?w=1200&f=webp", source), original_size);
  EXPECT_EQ(key_of("/a.jpg?w=2400&f=webp", source), original_size);
  EXPECT_EQ(key_of("/a.jpg?h=800&f=webp", source), original_size);
  EXPECT_EQ(key_of("/a.jpg?w=5000&h=5000&fit=inside&f=webp", source), original_size);
  EXPECT_NE(key_of("/a.jpg?w=2400&enlarge=true&f=webp", source), original_size);
  EXPECT_NE(key_of("/a.jpg?w=1199&f=webp", source), original_size);
  // A crop and a letterbox are not the original, even when no side is scaled.
  EXPECT_NE(key_of("/a.jpg?w=1200&h=400&f=webp", source), original_size);
  EXPECT_NE(key_of("/a.jpg?w=1300&h=800&fit=contain&f=webp", source), original_size);
  // A cover box of the source's own shape is just its width.
  EXPECT_EQ(key_of("/a.jpg?w=600&h=400&f=webp", source), key_of("/a.jpg?w=600&f=webp", source));
}

}  // namespace
}  // namespace imageflex
