// Issue 11's effects and output options: parsing (bad values are 400s naming the
// parameter and its range), the canonical key (equivalent URLs are one variant), the
// bounds that keep effects cheap, and the ThumbHash and dominant colour of ?meta.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "common/error.h"
#include "image/cost.h"
#include "image/effects.h"
#include "image/thumbhash.h"
#include "request/key.h"
#include "request/normalise.h"
#include "sources.h"

namespace imageflex {
namespace {

using test::source_of;

std::string key_of(const std::string& target, const SourceInfo& source, AcceptedFormats accepted = {},
                   const Presets& presets = {}) {
  const ImageRequest normal =
      normalise_request(parse_request(target, 8192, presets), source, accepted, Quality{});
  return variant_key(normal, "etag", {}, Quality{});
}

std::string reason_of(const std::string& target, const Presets& presets = {}) {
  try {
    parse_request(target, 8192, presets);
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kBadRequest) << target;
    return error.what();
  }
  return "(accepted)";
}

TEST(EffectsParseTest, GoodValuesFillTheRequest) {
  const ImageRequest r = parse_request("/a.jpg?blur=5&sharpen=0.5&trim&lossless&progressive=true", 8192);
  EXPECT_DOUBLE_EQ(r.effects.blur, 5);
  EXPECT_DOUBLE_EQ(r.effects.sharpen, 0.5);
  EXPECT_EQ(r.effects.trim, kDefaultTrimThreshold);
  EXPECT_TRUE(r.options.lossless);
  EXPECT_TRUE(r.options.progressive);
  EXPECT_TRUE(r.wants_variant());
  EXPECT_EQ(parse_request("/a.jpg?trim=40", 8192).effects.trim, 40);
  EXPECT_FALSE(parse_request("/a.jpg?lossless=false", 8192).options.lossless);
  const ImageRequest q = parse_request("/a.jpg?q=avif:60,webp:75,jpg:70", 8192);
  EXPECT_EQ(q.quality, 0);
  EXPECT_EQ(q.quality_for, (FormatQualities{70, 75, 60}));
  EXPECT_EQ(parse_request("/a.jpg?q=80,avif:60", 8192).quality, 80);
  EXPECT_TRUE(parse_request("/a.jpg?meta", 8192).meta);
  EXPECT_TRUE(parse_request("/a.jpg?f=json", 8192).meta);
  EXPECT_FALSE(parse_request("/a.jpg?f=json", 8192).format.has_value());
}

TEST(EffectsParseTest, BadValuesNameTheParameterAndItsRange) {
  struct Row {
    const char* query;
    const char* reason;  // a part of the 400's reason
  };
  const Row rows[] = {
      {"blur=0.2", "blur must be a number from 0.3 to 100"},
      {"blur=101", "blur must be a number from 0.3 to 100"},
      {"blur=-1", "blur must be a number from 0.3 to 100"},
      {"blur=1e2", "blur must be a number from 0.3 to 100"},
      {"blur=5.", "blur must be a number from 0.3 to 100"},
      {"blur=", "blur must be a number from 0.3 to 100"},
      {"sharpen=11", "sharpen must be a number from 0.3 to 10"},
      {"sharpen=abc", "sharpen must be a number from 0.3 to 10"},
      {"trim=0", "trim must be from 1 to 254"},
      {"trim=255", "trim must be from 1 to 254"},
      {"trim=x", "trim must be a whole number"},
      {"lossless=yes", "lossless must be true or false"},
      {"progressive=2", "progressive must be true or false"},
      {"meta=no", "meta takes no value"},
      {"q=png:50", "q must be 1 to 100, or per format as avif:60,webp:75"},
      {"q=avif:0", "q must be 1 to 100"},
      {"q=avif:101", "q must be 1 to 100"},
      {"q=avif:60,avif:70", "each format once"},
      {"q=avif:", "q must be 1 to 100"},
      {"q=80,90", "each format once"},
      {"f=jsonp", "f must be avif, webp, jpeg, jpg, png, gif or json"},
      {"p=thumb", "p must name a configured preset, got 'thumb'"},
  };
  for (const Row& row : rows) {
    EXPECT_NE(reason_of(std::string("/a.jpg?") + row.query).find(row.reason), std::string::npos)
        << row.query << " gave: " << reason_of(std::string("/a.jpg?") + row.query);
  }
}

TEST(EffectsKeyTest, EquivalentUrlsAreOneVariant) {
  const SourceInfo jpeg = source_of(Format::kJpeg, 1200, 800);
  struct Row {
    const char* a;
    const char* b;
    AcceptedFormats accepted;
  };
  const Row same[] = {
      {"w=300&blur=5", "w=300&blur=5.00", {}},
      {"w=300&q=webp:75", "w=300", {}},                         // JPEG served: its default
      {"w=300&q=webp:75", "w=300&f=webp&q=75", {false, true}},  // WebP served: its own q
      {"w=300&q=avif:60,webp:75", "w=300&f=avif&q=60", {true, true}},
      {"w=300&q=80,avif:60", "w=300&q=80", {}},  // JPEG: the bare number
      {"w=300&lossless", "w=300", {}},           // lossless means nothing to JPEG
      {"w=300&f=png&lossless", "w=300&f=png", {}},
      {"w=300&f=webp&lossless&q=50", "w=300&f=webp&lossless", {}},  // lossless takes no q
      {"w=300&f=webp&progressive", "w=300&f=webp", {}},
      {"w=300&f=avif&progressive", "w=300&f=avif", {}},
      {"meta", "meta&w=300&blur=3", {}},  // metadata depends on the original alone
      {"meta", "f=json", {}},
      {"trim", "trim=10", {}},
      {"progressive=false", "f=jpeg", {}},
  };
  for (const Row& row : same) {
    EXPECT_EQ(key_of(std::string("/a.jpg?") + row.a, jpeg, row.accepted),
              key_of(std::string("/a.jpg?") + row.b, jpeg, row.accepted))
        << row.a << " vs " << row.b;
  }
  const Row different[] = {
      {"w=300&blur=5", "w=300&blur=6", {}},
      {"w=300&blur=5", "w=300", {}},
      {"w=300&sharpen=1", "w=300", {}},
      {"w=300&trim", "w=300", {}},
      {"w=300&trim=10", "w=300&trim=20", {}},
      {"w=300&f=webp&lossless", "w=300&f=webp", {}},
      {"w=300&progressive", "w=300", {}},
      {"w=300&f=png&progressive", "w=300&f=png", {}},
      {"w=300&q=jpeg:50", "w=300", {}},
      {"meta", "w=300", {}},
      {"w=300&q=webp:50", "w=300&q=webp:60", {false, true}},
  };
  for (const Row& row : different) {
    EXPECT_NE(key_of(std::string("/a.jpg?") + row.a, jpeg, row.accepted),
              key_of(std::string("/a.jpg?") + row.b, jpeg, row.accepted))
        << row.a << " vs " << row.b;
  }
  // An animation served animated keeps its border: trim is dropped.
  const SourceInfo gif = source_of(Format::kGif, 60, 40, 3);
  EXPECT_EQ(key_of("/a.gif?w=30&trim", gif), key_of("/a.gif?w=30", gif));
}

TEST(EffectsKeyTest, APresetAndItsExpansionAreOneVariant) {
  const Presets presets = parse_presets("thumb: w=200,h=200,fit=contain,q=avif:60,webp:75\n", "p", 8192);
  const SourceInfo jpeg = source_of(Format::kJpeg, 1200, 800);
  EXPECT_EQ(key_of("/a.jpg?p=thumb", jpeg, {true, true}, presets),
            key_of("/a.jpg?w=200&h=200&fit=contain&q=avif:60,webp:75", jpeg, {true, true}));
  // A parameter beside the preset overrides it.
  EXPECT_EQ(key_of("/a.jpg?p=thumb&w=100", jpeg, {}, presets),
            key_of("/a.jpg?w=100&h=200&fit=contain", jpeg, {}));
  // The signature covers the URL as sent, not the expansion.
  EXPECT_EQ(parse_request("/a.jpg?w=100&p=thumb", 8192, presets).canonical_query, "w=100&p=thumb");
}

TEST(PresetsTest, FilesParseAndErrorsNameFileAndLine) {
  const Presets presets = parse_presets(
      "# thumbnails\n\nthumb: w=200,h=200,fit=cover\n  hero : w=1600 & q=avif:60,webp:75 & progressive=\n",
      "presets.conf", 8192);
  ASSERT_EQ(presets.sets.size(), 2u);
  EXPECT_EQ(presets.sets.at("hero").size(), 3u);
  EXPECT_EQ(presets.sets.at("hero")[1].second, "avif:60,webp:75");
  struct Row {
    const char* text;
    const char* reason;
  };
  const Row rows[] = {
      {"ok: w=1\nthumb w=200\n", "presets.conf:2: expected NAME: PARAMETERS"},
      {"a b: w=1\n", "presets.conf:1: preset name 'a b'"},
      {"t: w=1\nt: w=2\n", "presets.conf:2: preset 't' is repeated"},
      {"t: w=0\n", "presets.conf:1: w must be from 1 to 8192"},
      {"t: width=10\n", "presets.conf:1: 'width' is not an image parameter"},
      {"t: p=u\n", "presets.conf:1: a preset cannot name another preset"},
      {"t: blur=500\n", "presets.conf:1: blur must be a number from 0.3 to 100"},
      {"t: 300\n", "presets.conf:1: '300' is not name=value"},
  };
  for (const Row& row : rows) {
    try {
      parse_presets(row.text, "presets.conf", 8192);
      ADD_FAILURE() << row.text << " was accepted";
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find(row.reason), std::string::npos) << error.what();
    }
  }
}

TEST(PresetsTest, PresetsOnlyRefusesEveryOtherImageParameter) {
  Presets presets = parse_presets("thumb: w=200,h=200\n", "p", 8192);
  presets.only = true;
  EXPECT_EQ(parse_request("/a.jpg?p=thumb", 8192, presets).geometry.width, 200);
  EXPECT_TRUE(parse_request("/a.jpg?meta", 8192, presets).meta);
  EXPECT_NE(reason_of("/a.jpg?p=thumb&w=100", presets).find("w is not allowed: only p="), std::string::npos);
  EXPECT_NE(reason_of("/a.jpg?blur=100", presets).find("blur is not allowed"), std::string::npos);
  EXPECT_FALSE(parse_request("/a.jpg?utm=1", 8192, presets).wants_variant());  // unknown: ignored as ever
}

TEST(EffectsBoundsTest, WideBlursRunOnAShrunkCopy) {
  EXPECT_EQ(plan_blur(5, {1000, 1000}), (BlurPlan{1, 5}));
  EXPECT_EQ(plan_blur(8, {1000, 1000}), (BlurPlan{1, 8}));
  const BlurPlan wide = plan_blur(100, {4000, 3000});
  EXPECT_EQ(wide.shrink, 13);
  EXPECT_LE(wide.sigma, kMaxDirectBlurSigma);
  EXPECT_NEAR(wide.sigma * wide.shrink, 100, 1e-9);
  // A sigma beyond a quarter of the image is capped: the picture is flat already.
  EXPECT_EQ(plan_blur(100, {32, 20}), (BlurPlan{1, 8}));
  for (int side : {1, 2, 7, 40, 400, 8192}) {
    for (double sigma : {0.3, 5.0, 33.0, 100.0}) {
      const BlurPlan plan = plan_blur(sigma, {side, side});
      EXPECT_LE(plan.sigma, kMaxDirectBlurSigma) << side << " " << sigma;
      EXPECT_GE(plan.shrink, 1);
      EXPECT_LE(plan.shrink, std::max(1, side / 4));
    }
  }
}

TEST(EffectsBoundsTest, TrimAndFiltersAreCharged) {
  const SourceInfo jpeg = source_of(Format::kJpeg, 4000, 3000);
  const Plan plan = plan_geometry(jpeg.size, {1000, 0, Fit::kCover, false});
  const auto plain = estimate_memory(jpeg, 1 << 20, plan, Format::kJpeg);
  const auto trimmed = estimate_memory(jpeg, 1 << 20, plan, Format::kJpeg, {0, 0, 10});
  const auto blurred = estimate_memory(jpeg, 1 << 20, plan, Format::kJpeg, {5, 0, 0});
  EXPECT_EQ(trimmed - plain, 4000ull * 3000 * 3);  // trim decodes the whole source
  EXPECT_EQ(blurred - plain, 1000ull * 750 * 3 * 4);
  EXPECT_EQ(effects_memory({}, 1000, 4), 0u);
}

// Solid colours: the hash stores their average, which decodes back within its 6-bit steps.
TEST(ThumbhashTest, TheAverageColourAndAspectRatioDecodeBack) {
  struct Row {
    int width, height;
    unsigned char r, g, b, a;
  };
  const Row rows[] = {{100, 75, 200, 30, 40, 255},
                      {40, 100, 20, 180, 60, 255},
                      {64, 64, 128, 128, 128, 255},
                      {100, 50, 10, 20, 230, 255}};
  for (const Row& row : rows) {
    std::string rgba;
    for (int i = 0; i < row.width * row.height; ++i)
      rgba += {static_cast<char>(row.r), static_cast<char>(row.g), static_cast<char>(row.b),
               static_cast<char>(row.a)};
    const std::string hash = thumbhash_encode(row.width, row.height, rgba);
    EXPECT_GE(hash.size(), 5u + 6u);  // the header, then the varying terms
    EXPECT_LE(hash.size(), 25u);
    const ThumbhashAverage average = thumbhash_average(hash);
    // l, p, q are stored in 1/63 steps; r, g, b combine up to three of them.
    EXPECT_NEAR(average.r * 255, row.r, 12) << row.width;
    EXPECT_NEAR(average.g * 255, row.g, 12) << row.width;
    EXPECT_NEAR(average.b * 255, row.b, 12) << row.width;
    EXPECT_DOUBLE_EQ(average.a, 1.0);
    const double aspect = static_cast<double>(row.width) / row.height;
    EXPECT_NEAR(thumbhash_aspect_ratio(hash), aspect, aspect * 0.35) << row.width << "x" << row.height;
  }
  EXPECT_THROW(thumbhash_encode(101, 10, std::string(101 * 10 * 4, '\0')), std::invalid_argument);
  EXPECT_THROW(thumbhash_encode(10, 10, "short"), std::invalid_argument);
}

TEST(ThumbhashTest, AlphaIsStoredAndSetsItsFlag) {
  // Left half opaque red, right half transparent.
  std::string rgba;
  for (int y = 0; y < 20; ++y)
    for (int x = 0; x < 40; ++x) rgba += {static_cast<char>(255), 0, 0, static_cast<char>(x < 20 ? 255 : 0)};
  const std::string hash = thumbhash_encode(40, 20, rgba);
  EXPECT_NE(static_cast<unsigned char>(hash[2]) & 0x80, 0);
  const ThumbhashAverage average = thumbhash_average(hash);
  EXPECT_NEAR(average.a, 0.5, 0.07);
  EXPECT_NEAR(average.r, 1.0, 0.05);
  // Different pictures make different hashes.
  std::string flipped = rgba;
  for (std::size_t i = 3; i < flipped.size(); i += 4)
    flipped[i] = static_cast<char>(255 - static_cast<unsigned char>(flipped[i]));
  EXPECT_NE(thumbhash_encode(40, 20, flipped), hash);
}

TEST(ThumbhashTest, DominantColourIsTheFullestBin) {
  std::string rgba;
  for (int i = 0; i < 60; ++i) rgba += {static_cast<char>(250), 10, 10, static_cast<char>(255)};
  for (int i = 0; i < 40; ++i) rgba += {10, 10, static_cast<char>(250), static_cast<char>(255)};
  for (int i = 0; i < 90; ++i) rgba += {0, static_cast<char>(255), 0, 0};  // transparent: not counted
  EXPECT_EQ(dominant_colour(rgba), 0xfa0a0au);
  EXPECT_EQ(dominant_colour(std::string(16, '\0')), 0x000000u);
}

}  // namespace
}  // namespace imageflex
