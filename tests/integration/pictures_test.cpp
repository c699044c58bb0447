// The picture must be right: orientation, alpha, animation, colour, metadata.
#include "integration.h"

namespace imageflex::test {
namespace {

class PicturesTest : public ServiceTest {};
IMAGEFLEX_ON_EVERY_BACKEND(PicturesTest);

TEST_P(PicturesTest, ExifOrientationIsApplied) {
  // Stored as 200x300 with orientation 6; upright it is 300x200, red left, blue right.
  auto response = get("/portrait_exif6.jpg?w=150&f=png");
  expect_image(response, "pngload", 150, 100);
  EXPECT_LT(colour_distance(rgb_of(mean_colour(response.body, 5, 10, 60, 80)), rgb(kRed)), 15);
  EXPECT_LT(colour_distance(rgb_of(mean_colour(response.body, 85, 10, 60, 80)), rgb(kBlue)), 15);
  // Converting alone also turns it upright.
  expect_image(get("/portrait_exif6.jpg?f=webp"), "webpload", 300, 200);
}

TEST_P(PicturesTest, AlphaIsKeptWhereTheFormatHoldsIt) {
  for (const char* path : {"/alpha.png?w=100&f=png", "/alpha.png?w=100&f=webp", "/alpha.png?w=100&f=avif"}) {
    auto response = get(path);
    ASSERT_EQ(response.status, 200) << path;
    Decoded d = decode(response.body);
    EXPECT_TRUE(d.alpha) << path;
    EXPECT_GT(mean_colour(response.body, 5, 5, 40, 40)[3], 250) << path << ": left half opaque";
    EXPECT_LT(mean_colour(response.body, 55, 5, 40, 40)[3], 5) << path << ": right half transparent";
  }
}

TEST_P(PicturesTest, AlphaIsFlattenedOntoWhiteForJpeg) {
  auto response = get("/alpha.png?w=100&f=jpeg");
  Decoded d = expect_image(response, "jpegload", 100, 50);
  EXPECT_FALSE(d.alpha);
  EXPECT_LT(colour_distance(rgb_of(mean_colour(response.body, 55, 5, 40, 40)), {255, 255, 255}), 4);
  EXPECT_LT(colour_distance(rgb_of(mean_colour(response.body, 5, 5, 40, 40)), rgb(kRed)), 15);
}

TEST_P(PicturesTest, AnimationKeepsEveryFrame) {
  struct Case {
    const char* path;
    const char* accept;
    const char* loader;
  };
  const Case table[] = {
      {"/animated.gif?w=30", "*/*", "gifload"},
      {"/animated.gif?w=30", "image/webp,*/*", "webpload"},
      {"/animated.gif?w=30", "image/avif,image/webp,*/*", "webpload"},  // never AVIF
      {"/animated.gif?w=30", "image/avif,*/*", "gifload"},
      {"/animated.webp?w=30", "image/webp", "webpload"},
      {"/animated.gif?w=30&f=webp", "*/*", "webpload"},
      {"/animated.webp?w=30&f=gif", "*/*", "gifload"},
  };
  const double(*colours[])[3] = {&kRed, &kGreen, &kBlue};
  for (const auto& row : table) {
    auto response = get(row.path, {std::string("Accept: ") + row.accept});
    Decoded d = expect_image(response, row.loader, 30, 20);
    EXPECT_EQ(d.frames, 3) << row.path << " " << row.accept;
    if (d.frames != 3) continue;
    for (int frame = 0; frame < 3; ++frame) {
      EXPECT_LT(
          colour_distance(rgb_of(mean_colour(response.body, 5, 5, 20, 10, frame)), rgb(*colours[frame])), 25)
          << row.path << " frame " << frame;
    }
  }
}

TEST_P(PicturesTest, AnimationToAStillFormatTakesTheFirstFrame) {
  auto response = get("/animated.gif?w=30&f=png");
  Decoded d = expect_image(response, "pngload", 30, 20);
  EXPECT_EQ(d.frames, 1);
  EXPECT_LT(colour_distance(rgb_of(mean_colour(response.body, 5, 5, 20, 10)), rgb(kRed)), 25);
}

TEST_P(PicturesTest, CmykDisplayP3AndSixteenBitBecomeEightBitSrgb) {
  // Without the profile, P3's red would read as a duller sRGB red.
  ASSERT_GT(colour_distance(rgb_of(mean_colour(fixture("p3.jpg"), 10, 10, 30, 30)), rgb(kRed)), 25);
  const std::pair<const char*, const double(*)[3]> table[] = {{"/cmyk.jpg?w=50&f=png", &kBrick},
                                                              {"/cmyk.jpg?w=50&f=webp", &kBrick},
                                                              {"/p3.jpg?w=50&f=png", &kRed},
                                                              {"/deep16.png?w=50&f=png", &kRed},
                                                              {"/deep16.png?w=50&f=webp", &kRed}};
  for (const auto& [path, colour] : table) {
    auto response = get(path);
    ASSERT_EQ(response.status, 200) << path;
    Decoded d = decode(response.body);
    EXPECT_EQ(d.interpretation, "srgb") << path;
    EXPECT_EQ(d.bits, 8) << path;
    EXPECT_EQ(d.bands, 3) << path;
    EXPECT_LT(colour_distance(rgb_of(mean_colour(response.body, 10, 10, 30, 30)), rgb(*colour)), 20) << path;
  }
}

TEST_P(PicturesTest, MetadataIsStrippedFromVariants) {
  ASSERT_TRUE(decode(fixture("portrait_exif6.jpg")).has_exif);
  for (const char* path : {"/portrait_exif6.jpg?w=100&f=jpeg", "/portrait_exif6.jpg?w=100&f=webp",
                           "/portrait_exif6.jpg?w=100&f=png"}) {
    auto response = get(path);
    ASSERT_EQ(response.status, 200) << path;
    Decoded d = decode(response.body);
    EXPECT_FALSE(d.has_exif) << path;
    EXPECT_FALSE(d.has_icc) << path;
  }
}

TEST_P(PicturesTest, VariantsLookLikeTheOriginal) {
  const auto original = dhash(fixture("landscape.jpg"));
  for (const char* path :
       {"/landscape.jpg?w=320&f=jpeg", "/landscape.jpg?w=320&f=webp", "/landscape.jpg?w=320&f=avif",
        "/landscape.jpg?w=320&f=png", "/landscape.jpg?w=320&f=gif", "/photo.tiff?w=200"}) {
    auto response = get(path);
    ASSERT_EQ(response.status, 200) << path;
    EXPECT_LE(hamming(dhash(response.body), original), 4) << path;
  }
  // And a different picture does not look like it: the check can fail.
  EXPECT_GT(hamming(dhash(fixture("stripes.jpg")), original), 10);
}

}  // namespace
}  // namespace imageflex::test
