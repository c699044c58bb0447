// The picture must be right: orientation, alpha, animation, colour, metadata.
#include <cmath>

#include "integration.h"

namespace imageflex::test {
namespace {

std::string describe(const std::vector<double>& colour) {
  std::string text;
  for (double value : colour) text += (text.empty() ? "(" : ",") + std::to_string(std::lround(value));
  return text + ")";
}

// The mean colour of each kCmykPatches patch in an image that shows them side by side,
// at any size, leaving out a margin at the edges (JPEG blocks, resampling).
std::vector<std::vector<double>> patch_colours(const std::string& bytes) {
  const int count = static_cast<int>(std::size(kCmykPatches));
  const int side = decode(bytes).width / count;
  const int margin = side / 5;
  std::vector<std::vector<double>> colours;
  colours.reserve(count);
  for (int i = 0; i < count; ++i) {
    colours.push_back(
        rgb_of(mean_colour(bytes, i * side + margin, margin, side - 2 * margin, side - 2 * margin)));
  }
  return colours;
}

class PicturesTest : public ServiceTest {
 protected:
  // Our variants of a fixture agree, patch by patch, with Little CMS's perceptual
  // conversion of the whole original: at half size, and at an eighth (JPEG shrink-on-load).
  void expect_like_lcms(const std::string& name, const std::string& fallback_profile) {
    const auto expected = patch_colours(lcms_to_srgb(fixture(name), fallback_profile));
    for (int divisor : {2, 8}) {
      const int width = kPatchSide * static_cast<int>(std::size(kCmykPatches)) / divisor;
      auto response = get("/" + name + "?w=" + std::to_string(width) + "&f=png");
      Decoded d = expect_image(response, "pngload", width, kPatchSide / divisor);
      if (d.width != width) continue;
      EXPECT_EQ(d.interpretation, "srgb") << name;
      const auto actual = patch_colours(response.body);
      for (std::size_t i = 0; i < actual.size(); ++i) {
        EXPECT_LE(colour_distance(actual[i], expected[i]), 4)
            << name << " w=" << width << " patch " << i << ": " << describe(actual[i]) << ", lcms "
            << describe(expected[i]);
      }
    }
  }
};
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
  const std::pair<const char*, const char*> table[] = {{"/animated.gif?w=30&f=png", "pngload"},
                                                       {"/animated.gif?w=30&f=avif", "heifload"},
                                                       {"/animated.webp?w=30&f=avif", "heifload"}};
  for (const auto& [path, loader] : table) {
    auto response = get(path);
    Decoded d = expect_image(response, loader, 30, 20);
    EXPECT_EQ(d.frames, 1) << path;
    EXPECT_LT(colour_distance(rgb_of(mean_colour(response.body, 5, 5, 20, 10)), rgb(kRed)), 25) << path;
  }
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

TEST_P(PicturesTest, CmykConvertsThroughItsProfileLikeLittleCms) {
  // The embedded press profile and libvips' built-in one disagree: the check can fail.
  const std::string builtin = builtin_cmyk_profile();
  ASSERT_GT(colour_distance(patch_colours(lcms_to_srgb(fixture("cmyk_profile.jpg")))[0],
                            patch_colours(lcms_to_srgb(fixture("cmyk_plain.jpg"), builtin))[0]),
            20);
  for (const char* name : {"cmyk_profile.jpg", "cmyk_profile.tif", "cmyk_adobe.jpg"}) {
    expect_like_lcms(name, "");
  }
  // Without a profile, through libvips' built-in CMYK profile.
  for (const char* name : {"cmyk_plain.jpg", "cmyk_plain.tif"}) expect_like_lcms(name, builtin);
}

TEST_P(PicturesTest, DisplayP3AndProfiledGreyConvertLikeLittleCms) {
  for (const char* name : {"p3.jpg", "grey_profile.jpg"}) {
    const auto expected = rgb_of(mean_colour(lcms_to_srgb(fixture(name)), 20, 20, 60, 60));
    auto response = get(std::string("/") + name + "?w=50&f=png");
    Decoded d = expect_image(response, "pngload", 50, 50);
    EXPECT_EQ(d.interpretation, "srgb") << name;
    const auto actual = rgb_of(mean_colour(response.body, 10, 10, 30, 30));
    EXPECT_LE(colour_distance(actual, expected), 3)
        << name << ": " << describe(actual) << ", lcms " << describe(expected);
  }
  // Read without its profile, the grey would stay 128.
  EXPECT_GT(colour_distance(rgb_of(mean_colour(lcms_to_srgb(fixture("grey_profile.jpg")), 20, 20, 60, 60)),
                            {128, 128, 128}),
            30);
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
