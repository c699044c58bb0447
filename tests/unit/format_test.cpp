#include "image/format.h"

#include <gtest/gtest.h>

#include <string>

#include "image/encode.h"

namespace imageflex {
namespace {

std::string ftyp(const std::string& major, const std::string& compatible) {
  std::string box = major + std::string("\0\0\0\0", 4) + compatible;
  std::string size(4, '\0');
  size[3] = static_cast<char>(8 + box.size());
  return size + "ftyp" + box + std::string(16, '\0');
}

TEST(FormatTest, SniffsFromMagicBytesNotNames) {
  const std::pair<std::string, std::optional<Format>> table[] = {
      {std::string("\xFF\xD8\xFF\xE0", 4) + "rest", Format::kJpeg},
      {std::string("\x89PNG\r\n\x1A\n", 8) + "rest", Format::kPng},
      {"GIF89a....", Format::kGif},
      {"GIF87a....", Format::kGif},
      {std::string("RIFF\x10\0\0\0WEBPVP8 ", 16), Format::kWebp},
      {std::string("II*\0", 4) + "....", Format::kTiff},
      {std::string("MM\0*", 4) + "....", Format::kTiff},
      {ftyp("avif", "mif1miaf"), Format::kAvif},
      {ftyp("mif1", "avifmiaf"), Format::kAvif},
      {ftyp("heic", "mif1heic"), Format::kHeic},
      {ftyp("mp42", "isom"), std::nullopt},
      {"<svg xmlns=...", std::nullopt},
      {"BM....", std::nullopt},
      {"%PDF-1.4", std::nullopt},
      {"", std::nullopt},
      {"\xFF\xD8", std::nullopt},
      {std::string("RIFF\x10\0\0\0WAVE", 12), std::nullopt},
  };
  for (const auto& [bytes, expected] : table) EXPECT_EQ(sniff_format(bytes), expected) << bytes;
}

std::string chunk(const std::string& tag, const std::string& data) {
  std::string size(4, '\0');
  size[0] = static_cast<char>(data.size());
  return tag + size + data + (data.size() % 2 ? std::string(1, '\0') : "");
}

std::string riff(const std::string& chunks) {
  std::string size(4, '\0');
  size[0] = static_cast<char>((chunks.size() + 4) & 0xFF);
  size[1] = static_cast<char>((chunks.size() + 4) >> 8);
  return "RIFF" + size + "WEBP" + chunks;
}

TEST(FormatTest, StripsWebpMetadataChunks) {
  const std::string vp8x = chunk("VP8X", std::string("\x2C\0\0\0\0\0\0\0\0\0", 10));
  const std::string image = chunk("VP8 ", "pixels");
  const std::string with =
      riff(vp8x + chunk("ICCP", "icc") + image + chunk("EXIF", "exif!") + chunk("XMP ", "x"));
  const std::string stripped = strip_webp_metadata(with);
  const std::string expected_vp8x = chunk("VP8X", std::string(10, '\0'));
  EXPECT_EQ(stripped, riff(expected_vp8x + image));
  EXPECT_EQ(strip_webp_metadata(riff(image)), riff(image)) << "nothing to strip";
  EXPECT_EQ(strip_webp_metadata("not webp"), "not webp");
  const std::string truncated = with.substr(0, with.size() - 3);
  EXPECT_EQ(strip_webp_metadata(truncated), truncated) << "malformed input is left alone";
}

TEST(FormatTest, NamesAndCapabilities) {
  EXPECT_EQ(parse_output_format("jpg"), Format::kJpeg);
  EXPECT_EQ(parse_output_format("JPEG"), Format::kJpeg);
  EXPECT_EQ(parse_output_format("tiff"), std::nullopt);
  EXPECT_EQ(parse_output_format("heic"), std::nullopt);
  EXPECT_EQ(mime_type(Format::kAvif), "image/avif");
  EXPECT_FALSE(supports_alpha(Format::kJpeg));
  EXPECT_TRUE(supports_alpha(Format::kWebp));
  EXPECT_TRUE(supports_animation(Format::kGif));
  EXPECT_FALSE(supports_animation(Format::kAvif));
}

}  // namespace
}  // namespace imageflex
