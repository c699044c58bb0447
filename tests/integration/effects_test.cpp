// Issue 11's effects, output options, presets and ?meta, measured on decoded pictures
// from the real server.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "image/thumbhash.h"
#include "integration.h"

namespace imageflex::test {
namespace {

// Standard base64 with padding, as ?meta writes the ThumbHash.
std::string base64_decode(const std::string& text) {
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned bits = 0;
  int count = 0;
  for (char c : text) {
    const auto at = alphabet.find(c);
    if (at == std::string::npos) break;  // '=' padding ends it
    bits = bits << 6 | static_cast<unsigned>(at);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out += static_cast<char>((bits >> count) & 0xFF);
    }
  }
  return out;
}

class EffectsTest : public ServiceTest {};

TEST_P(EffectsTest, BlurLowersAndSharpenRaisesHighFrequencies) {
  const auto plain = get("/checks.png?w=128&f=png");
  const auto blurred = get("/checks.png?w=128&f=png&blur=2");
  const auto wide = get("/checks.png?w=128&f=png&blur=60");  // run on a shrunk copy
  const auto sharp = get("/checks.png?w=128&f=png&sharpen=1.5");
  expect_image(plain, "pngload", 128, 128);
  expect_image(blurred, "pngload", 128, 128);
  expect_image(wide, "pngload", 128, 128);
  expect_image(sharp, "pngload", 128, 128);
  const double base = edge_energy(plain.body);
  EXPECT_GT(base, 10);
  EXPECT_LT(edge_energy(blurred.body), base / 4);
  EXPECT_LT(edge_energy(wide.body), 1.0);
  EXPECT_GT(edge_energy(sharp.body), base * 1.1);
  // A placeholder: tiny and blurred.
  expect_image(get("/landscape.jpg?w=32&blur=5"), "jpegload", 32, 24);
}

TEST_P(EffectsTest, TrimRemovesAUniformBorder) {
  // 300x200 white around a 200x100 red | blue centre.
  const auto trimmed = get("/bordered.png?trim&f=png");
  Decoded d = expect_image(trimmed, "pngload", 200, 100);
  if (d.width != 200) return;
  EXPECT_LT(colour_distance(rgb_of(mean_colour(trimmed.body, 0, 0, 10, 100)), rgb(kRed)), 8);
  EXPECT_LT(colour_distance(rgb_of(mean_colour(trimmed.body, 190, 0, 10, 100)), rgb(kBlue)), 8);
  // w bounds the content, not the border.
  expect_image(get("/bordered.png?trim=20&w=100&f=png"), "pngload", 100, 50);
  // Without trim, the border stays.
  expect_image(get("/bordered.png?w=150&f=png"), "pngload", 150, 100);
}

TEST_P(EffectsTest, LosslessWebpAndAvifDecodeToTheSamePixels) {
  const auto png = get("/landscape.png?w=200&f=png");
  ASSERT_EQ(png.status, 200);
  // WebP's lossless mode stores RGB: identical. libvips 8.14 writes lossless AVIF as
  // full-resolution YCbCr, not RGB (the identity matrix): off by at most one level.
  for (const auto& [format, most] : {std::pair{"webp", 0.0}, std::pair{"avif", 1.0}}) {
    const auto lossless = get(std::string("/landscape.png?w=200&lossless&f=") + format);
    ASSERT_EQ(lossless.status, 200) << format << lossless.body.substr(0, 200);
    const double difference = max_pixel_difference(png.body, lossless.body);
    EXPECT_GE(difference, 0) << format;
    EXPECT_LE(difference, most) << format << " " << decode(lossless.body).loader;
  }
  // Lossy WebP is not identical (the comparison can fail).
  EXPECT_GT(max_pixel_difference(png.body, get("/landscape.png?w=200&f=webp&q=30").body), 0);
}

TEST_P(EffectsTest, ProgressiveJpegAndInterlacedPng) {
  auto has_sof2 = [](const std::string& jpeg) { return jpeg.find("\xFF\xC2") != std::string::npos; };
  const auto progressive = get("/landscape.jpg?w=200&progressive&f=jpeg");
  const auto baseline = get("/landscape.jpg?w=200&f=jpeg");
  expect_image(progressive, "jpegload", 200, 150);
  EXPECT_TRUE(has_sof2(progressive.body));
  EXPECT_FALSE(has_sof2(baseline.body));
  // PNG: IHDR's last byte (offset 28) is the interlace method, 1 = Adam7.
  const auto interlaced = get("/landscape.jpg?w=200&progressive&f=png");
  const auto plain = get("/landscape.jpg?w=200&f=png");
  ASSERT_GT(interlaced.body.size(), 29u);
  EXPECT_EQ(interlaced.body[28], 1);
  EXPECT_EQ(plain.body[28], 0);
  EXPECT_EQ(max_pixel_difference(interlaced.body, plain.body), 0);
}

TEST_P(EffectsTest, PerFormatQualityPicksTheNegotiatedFormatsNumber) {
  const std::string query = "/landscape.jpg?w=300&q=avif:20,webp:20,jpeg:95";
  const auto webp = get(query, {"Accept: image/webp"});
  const auto jpeg = get(query, {"Accept: image/jpeg"});
  ASSERT_EQ(webp.status, 200);
  ASSERT_EQ(jpeg.status, 200);
  EXPECT_EQ(decode(webp.body).loader, "webpload");
  EXPECT_EQ(decode(jpeg.body).loader, "jpegload");
  // Each is the variant its own number names: the same bytes as the plain q= URL.
  EXPECT_EQ(webp.body, get("/landscape.jpg?w=300&f=webp&q=20").body);
  EXPECT_EQ(jpeg.body, get("/landscape.jpg?w=300&f=jpeg&q=95").body);
  EXPECT_NE(jpeg.body, get("/landscape.jpg?w=300&f=jpeg").body);
}

TEST_P(EffectsTest, MetaAnswersJsonCachedLikeAVariant) {
  struct Row {
    const char* name;
    int width, height, frames;
    bool alpha;
    const char* format;
  };
  // GIF decodes with an alpha band in libvips, so its alpha is true.
  const Row rows[] = {{"portrait_exif6.jpg", 300, 200, 1, false, "jpeg"},
                      {"alpha.png", 200, 100, 1, true, "png"},
                      {"animated.gif", 60, 40, 3, true, "gif"}};
  for (const Row& row : rows) {
    const auto first = get(std::string("/") + row.name + "?meta");
    ASSERT_EQ(first.status, 200) << row.name << first.body;
    EXPECT_EQ(first.header("content-type"), "application/json");
    EXPECT_EQ(first.header("x-cache").rfind("miss", 0), 0u) << first.header("x-cache");
    const auto json = nlohmann::json::parse(first.body);
    EXPECT_EQ(json["width"], row.width) << row.name;
    EXPECT_EQ(json["height"], row.height) << row.name;
    EXPECT_EQ(json["frames"], row.frames) << row.name;
    EXPECT_EQ(json["alpha"], row.alpha) << row.name;
    EXPECT_EQ(json["format"], row.format) << row.name;
    const std::string hash = base64_decode(json["thumbhash"].get<std::string>());
    EXPECT_NEAR(thumbhash_aspect_ratio(hash), static_cast<double>(row.width) / row.height, 0.6) << row.name;
    // f=json is the same variant: served from the cache.
    const auto again = get(std::string("/") + row.name + "?f=json");
    EXPECT_EQ(again.body, first.body);
    EXPECT_EQ(again.header("x-cache").rfind("hit", 0), 0u) << again.header("x-cache");
  }
  // The dominant colour: red is the opaque half of alpha.png; exif6 is half red, half blue.
  const auto alpha = nlohmann::json::parse(get("/alpha.png?meta").body);
  char red[8];
  std::snprintf(red, sizeof red, "#%02x%02x%02x", static_cast<int>(kRed[0]), static_cast<int>(kRed[1]),
                static_cast<int>(kRed[2]));
  EXPECT_EQ(alpha["dominant_colour"], red);
}

IMAGEFLEX_ON_EVERY_BACKEND(EffectsTest);

// Presets from a file: ?p=NAME, overridden by parameters beside it; presets-only refuses others.
class PresetsTest : public ServiceTest {
 protected:
  static std::string presets_file() {
    const std::string path = std::filesystem::temp_directory_path() / "imageflex-presets-test.conf";
    std::ofstream out(path);
    out << "# test presets\nthumb: w=100,h=100,fit=contain,f=png\nsoft: w=64, blur=3, f=jpeg\n";
    return path;
  }
  std::vector<std::string> server_args() override { return {"--presets", presets_file()}; }
};

TEST_P(PresetsTest, PresetsExpandAndParametersBesideThemOverride) {
  const auto thumb = get("/landscape.jpg?p=thumb");
  expect_image(thumb, "pngload", 100, 100);
  EXPECT_EQ(thumb.body, get("/landscape.jpg?w=100&h=100&fit=contain&f=png").body);
  expect_image(get("/landscape.jpg?p=thumb&w=60"), "pngload", 60, 100);
  expect_image(get("/landscape.jpg?p=soft"), "jpegload", 64, 48);
  const auto unknown = get("/landscape.jpg?p=nope");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_NE(unknown.body.find("p must name a configured preset"), std::string::npos) << unknown.body;
}

IMAGEFLEX_ON_EVERY_BACKEND(PresetsTest);

class PresetsOnlyTest : public PresetsTest {
 protected:
  std::vector<std::string> server_args() override {
    return {"--presets", presets_file(), "--presets-only", "true"};
  }
};

TEST_P(PresetsOnlyTest, OnlyPresetsMakeVariants) {
  expect_image(get("/landscape.jpg?p=thumb"), "pngload", 100, 100);
  for (const char* query : {"w=100", "p=thumb&w=60", "blur=100", "f=webp"}) {
    const auto refused = get(std::string("/landscape.jpg?") + query);
    EXPECT_EQ(refused.status, 400) << query;
    EXPECT_NE(refused.body.find("only p="), std::string::npos) << refused.body;
  }
  EXPECT_EQ(get("/landscape.jpg?meta").status, 200);
  EXPECT_EQ(get("/landscape.jpg").status, 200);  // the original, as ever
}

IMAGEFLEX_ON_EVERY_BACKEND(PresetsOnlyTest);

}  // namespace
}  // namespace imageflex::test
