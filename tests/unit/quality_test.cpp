#include "image/quality.h"

#include <gtest/gtest.h>
#include <vips/vips8>

#include "image/encode.h"
#include "image/vips_runtime.h"
#include "request/key.h"

namespace imageflex {
namespace {

TEST(QualityTest, OneRuleForTheEffectiveQuality) {
  const Quality defaults;
  EXPECT_EQ(effective_quality(Format::kJpeg, 0, defaults), defaults.jpeg);
  EXPECT_EQ(effective_quality(Format::kWebp, 0, defaults), defaults.webp);
  EXPECT_EQ(effective_quality(Format::kAvif, 0, defaults), defaults.avif);
  EXPECT_EQ(effective_quality(Format::kPng, 0, defaults), 0);
  EXPECT_EQ(effective_quality(Format::kGif, 0, defaults), 0);
  EXPECT_EQ(effective_quality(Format::kWebp, 42, defaults), 42);
}

// The key names a variant by the quality effective_quality() gives, and the encoder
// makes it at that quality: asking for the default explicitly gives the same key and
// the same bytes as not asking.
TEST(QualityTest, KeyAndEncoderAgreeOnTheDefault) {
  init_vips("unit_tests");
  Quality defaults;
  defaults.webp = 55;  // not the built-in default, so a stale copy of it would show
  const vips::VImage image = vips::VImage::gaussnoise(64, 48).cast(VIPS_FORMAT_UCHAR).bandjoin({0, 128});
  const std::pair<Format, const char*> formats[] = {{Format::kJpeg, "jpeg"}, {Format::kWebp, "webp"}};
  for (const auto& [format, name] : formats) {
    const int q = effective_quality(format, 0, defaults);
    const std::string implicit = std::string("/p.jpg?w=10&f=") + name;
    const std::string explicit_q = implicit + "&q=" + std::to_string(q);
    EXPECT_EQ(variant_key(parse_request(implicit, 8192), "e", {}, defaults),
              variant_key(parse_request(explicit_q, 8192), "e", {}, defaults))
        << name;
    EXPECT_EQ(encode(image, format, 0, defaults), encode(image, format, q, defaults)) << name;
    EXPECT_NE(encode(image, format, 0, defaults), encode(image, format, q + 20, defaults)) << name;
  }
}

}  // namespace
}  // namespace imageflex
