#include "image/format.h"

#include <gtest/gtest.h>

#include <string>

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
