// ThumbHash (https://evanw.github.io/thumbhash/): a ~25-byte placeholder of an image that
// a front end decodes into a blurred preview with the right aspect ratio and colours.
// Encoded here from its public description: the average colour, then a few DCT terms of
// luminance, two colour-difference channels and alpha, quantised to 4 bits each.
// Pure arithmetic on RGBA bytes; unit-tested by decoding its header back.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace imageflex {

// `rgba` holds width*height*4 bytes, not premultiplied; both sides at most 100.
// Returns the hash's bytes (binary). Throws std::invalid_argument on a bad size.
std::string thumbhash_encode(int width, int height, std::string_view rgba);

// The average colour a ThumbHash stores, each 0..1: what a client shows before decoding.
struct ThumbhashAverage {
  double r = 0, g = 0, b = 0, a = 1;
};
ThumbhashAverage thumbhash_average(std::string_view hash);

// The aspect ratio (width / height) a ThumbHash stores, approximately.
double thumbhash_aspect_ratio(std::string_view hash);

// The most common colour of RGBA pixels: colours are counted in 4-bit-per-channel bins
// (opaque pixels only when some are), and the mean of the fullest bin is returned as
// 0xRRGGBB.
std::uint32_t dominant_colour(std::string_view rgba);

}  // namespace imageflex
