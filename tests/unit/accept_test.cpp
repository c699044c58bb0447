#include "negotiate/accept.h"

#include <gtest/gtest.h>

namespace imageflex {
namespace {

TEST(AcceptTest, ParsesMediaRangesAndQValues) {
  const std::pair<const char*, AcceptedFormats> table[] = {
      {"", {false, false}},
      {"*/*", {false, false}},
      {"image/*", {false, false}},
      {"image/avif,image/webp,*/*", {true, true}},
      {"image/webp", {false, true}},
      {"IMAGE/AVIF", {true, false}},
      {"image/avif;q=0, image/webp", {false, true}},
      {"image/avif; q=0.0, image/webp;q=0.000", {false, false}},
      {"image/avif;q=0.5", {true, false}},
      {"image/avif;q=abc", {false, false}},
      {"text/html,application/xhtml+xml,image/avif,image/webp,image/apng,*/*;q=0.8", {true, true}},
      {"image/avifx, image/webpp", {false, false}},
      {" image/webp ; q=1 ", {false, true}},
      // Only a plain decimal is a q-value (the CloudFront Function parses it the same way).
      {"image/avif;q=nan,image/webp;q=1e-3", {false, false}},
      {"image/avif;q=.5,image/webp;q=1.", {true, true}},
      {"image/avif;q=0x1,image/webp;q=+1", {false, false}},
  };
  for (const auto& [header, expected] : table) EXPECT_EQ(parse_accept(header), expected) << header;
}

struct ChoiceCase {
  AcceptedFormats accepted;
  SourceInfo source;
  Format expected;
};

TEST(AcceptTest, ChoosesTheBestFormatTheClientTakes) {
  const ChoiceCase table[] = {
      {{true, true}, {Format::kJpeg, {}, 1, false}, Format::kAvif},
      {{false, true}, {Format::kJpeg, {}, 1, false}, Format::kWebp},
      {{false, false}, {Format::kJpeg, {}, 1, false}, Format::kJpeg},
      {{false, false}, {Format::kPng, {}, 1, true}, Format::kPng},
      {{false, false}, {Format::kGif, {}, 1, false}, Format::kGif},
      {{false, false}, {Format::kTiff, {}, 1, false}, Format::kJpeg},
      {{false, false}, {Format::kTiff, {}, 1, true}, Format::kPng},
      {{false, false}, {Format::kHeic, {}, 1, false}, Format::kJpeg},
      {{false, false}, {Format::kAvif, {}, 1, false}, Format::kJpeg},
      {{false, false}, {Format::kWebp, {}, 1, true}, Format::kPng},
      // AVIF counts only with WebP: a client naming AVIF alone is served like one naming neither.
      {{true, false}, {Format::kJpeg, {}, 1, false}, Format::kJpeg},
      {{true, false}, {Format::kTiff, {}, 1, true}, Format::kPng},
      // Animations are never AVIF: animated WebP if taken, else GIF.
      {{true, true}, {Format::kGif, {}, 2, false}, Format::kWebp},
      {{true, false}, {Format::kGif, {}, 2, false}, Format::kGif},
      {{false, false}, {Format::kWebp, {}, 2, true}, Format::kGif},
  };
  for (const auto& row : table) {
    EXPECT_EQ(choose_format(row.accepted, row.source), row.expected)
        << format_name(row.source.format) << " avif=" << row.accepted.avif << " webp=" << row.accepted.webp;
  }
}

}  // namespace
}  // namespace imageflex
