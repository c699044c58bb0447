// Effects and output options a variant may ask for, and the pure arithmetic that keeps
// each one bounded: no URL can make a blur or a trim cost more than a plain resize of
// the same output by more than a small constant factor. No libvips here; unit-tested.
#pragma once

#include <cstdint>

#include "image/geometry.h"

namespace imageflex {

inline constexpr double kMinBlurSigma = 0.3;
inline constexpr double kMaxBlurSigma = 100.0;
inline constexpr double kMinSharpenSigma = 0.3;
inline constexpr double kMaxSharpenSigma = 10.0;
inline constexpr int kDefaultTrimThreshold = 10;
inline constexpr int kMaxTrimThreshold = 254;

struct Effects {
  double blur = 0;     // Gaussian sigma in output pixels; 0 = none
  double sharpen = 0;  // sigma; 0 = none
  int trim = 0;        // colour-distance threshold of a uniform border; 0 = no trim
  friend bool operator==(const Effects&, const Effects&) = default;
  bool any() const { return blur > 0 || sharpen > 0 || trim > 0; }
};

struct OutputOptions {
  bool lossless = false;     // WebP and AVIF only
  bool progressive = false;  // JPEG (progressive) and PNG (Adam7 interlace) only
  friend bool operator==(const OutputOptions&, const OutputOptions&) = default;
};

// The largest sigma blurred directly: its mask is about 6 sigma wide, so each output
// pixel reads at most ~50 inputs per pass whatever the URL asked.
inline constexpr double kMaxDirectBlurSigma = 8.0;

// A blur as done: shrink by `shrink`, blur with `sigma` there, then enlarge back. A blur
// this wide removes every detail the shrink would lose, so the result looks the same.
struct BlurPlan {
  int shrink = 1;
  double sigma = 0;
  friend bool operator==(const BlurPlan&, const BlurPlan&) = default;
};

// `sigma` is also capped at a quarter of the image's longer side (`size`): beyond that
// the picture is one smooth colour anyway.
BlurPlan plan_blur(double sigma, Size size);

// Extra bytes the effects hold at their peak for an image of `pixels` pixels and `bands`
// bands (for trim, the whole source, which it decodes at full size): trim keeps the
// decoded image in memory (it is read twice, once to find the
// border); blur and sharpen keep float working copies of a few mask heights of rows,
// charged as one float copy of the image to stay an upper bound.
std::uint64_t effects_memory(const Effects& effects, std::uint64_t pixels, int bands);

}  // namespace imageflex
