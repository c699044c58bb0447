// Colour (src/image/colour.h): which embedded profiles are sRGB, judged by their pixels.
#include "image/colour.h"

#include <gtest/gtest.h>
#include <vips/vips8>

#include "image/vips_runtime.h"

namespace imageflex {
namespace {

using vips::VImage;

// 64x64 of varied colour, exported through libvips' built-in `profile` ("srgb", "p3"),
// which embeds that profile.
VImage tagged(const char* profile) {
  VImage colours = VImage::bandjoin({VImage::xyz(64, 64)[0] * 4, VImage::xyz(64, 64)[1] * 4,
                                     (VImage::xyz(64, 64)[0] + VImage::xyz(64, 64)[1]) * 2})
                       .cast(VIPS_FORMAT_UCHAR)
                       .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
  return colours.icc_export(VImage::option()->set("input_profile", "srgb")->set("output_profile", profile))
      .copy_memory();
}

TEST(ColourTest, AnSrgbProfileLeavesThePixelsAndIsDropped) {
  init_vips("unit_tests");
  const VImage srgb = tagged("srgb");
  ASSERT_NE(srgb.get_typeof(VIPS_META_ICC_NAME), 0);
  EXPECT_TRUE(profile_is_srgb(srgb));
  const VImage out = to_srgb8(srgb);
  EXPECT_EQ(out.get_typeof(VIPS_META_ICC_NAME), 0);
  EXPECT_EQ((out.cast(VIPS_FORMAT_INT) - srgb.cast(VIPS_FORMAT_INT)).abs().max(), 0);
  EXPECT_TRUE(profile_is_srgb(srgb)) << "remembered, the same answer";
}

TEST(ColourTest, ADisplayP3ProfileIsConverted) {
  init_vips("unit_tests");
  const VImage p3 = tagged("p3");
  EXPECT_FALSE(profile_is_srgb(p3));
  const VImage out = to_srgb8(p3);
  EXPECT_EQ(out.get_typeof(VIPS_META_ICC_NAME), 0);
  EXPECT_GT((out.cast(VIPS_FORMAT_INT) - p3.cast(VIPS_FORMAT_INT)).abs().max(), 5)
      << "P3 values are not sRGB's";
}

TEST(ColourTest, OnlyEightBitRgbIsJudged) {
  init_vips("unit_tests");
  EXPECT_FALSE(profile_is_srgb(tagged("srgb").cast(VIPS_FORMAT_USHORT)));
  EXPECT_FALSE(profile_is_srgb(tagged("srgb").extract_band(0)));
  EXPECT_FALSE(profile_is_srgb(VImage::black(8, 8, VImage::option()->set("bands", 3))));  // no profile
}

}  // namespace
}  // namespace imageflex
