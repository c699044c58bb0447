// Decodes images the service returns and measures them: format, size, frames,
// alpha, colour, and a perceptual difference hash for "looks the same" checks.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace imageflex::test {

struct Decoded {
  std::string loader;  // "jpegload", "pngload", "webpload", "heifload", "gifload", ...
  int width = 0;
  int height = 0;  // one frame
  int frames = 1;
  int bands = 0;
  bool alpha = false;
  bool has_exif = false;
  bool has_icc = false;
  std::string interpretation;  // "srgb", "b-w", ...
  int bits = 8;
};

Decoded decode(const std::string& bytes);  // throws if libvips cannot read it

// Mean of each band over a rectangle of frame `frame` (sRGB; alpha band included).
std::vector<double> mean_colour(const std::string& bytes, int left, int top, int width, int height,
                                int frame = 0);

// 64-bit difference hash of the whole first frame (resized to 9x8 grey); and the
// number of differing bits between two hashes (0 = same picture, > 10 = different).
std::uint64_t dhash(const std::string& bytes);
int hamming(std::uint64_t a, std::uint64_t b);

// The picture converted to 8-bit sRGB by Little CMS's own tools (jpgicc for JPEG, tificc
// for TIFF, from liblcms2-utils) with the perceptual intent: the reference our colour
// conversion is held to. `fallback_profile` (the profile's bytes; "" for none) is used
// when the image embeds no profile. Throws if the tool is missing or fails.
std::string lcms_to_srgb(const std::string& bytes, const std::string& fallback_profile = "");

// The bytes of libvips' built-in CMYK profile (its fallback for untagged CMYK).
std::string builtin_cmyk_profile();

// Largest per-band difference between two colours.
double colour_distance(const std::vector<double>& a, const std::vector<double>& b);

// High-frequency energy: the mean absolute difference between horizontally adjacent
// pixels of the first frame in grey. A blur lowers it; sharpening raises it.
double edge_energy(const std::string& bytes);

// The largest difference of any band of any pixel between two decoded images of the same
// size (both as 8-bit sRGB); -1 when their sizes or bands differ.
double max_pixel_difference(const std::string& a, const std::string& b);

}  // namespace imageflex::test
