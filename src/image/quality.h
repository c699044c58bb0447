// Encoder quality: the configured defaults and the one rule that turns a request's
// q= into the quality actually used. The variant key and the encoder both call
// effective_quality(), so the name of a variant always says how it was made.
#pragma once

#include "image/format.h"

namespace imageflex {

// Defaults measured by bench/quality.sh (BENCHMARKS.md): each format's lowest quality
// that matches JPEG q80's SSIM on photographs, and the AVIF effort whose encode fits a
// first-request budget.
struct Quality {
  int jpeg = 80;
  int webp = 86;
  int avif = 71;
  int avif_effort = 0;  // libvips effort: 0 fastest .. 9 slowest and smallest
  int png_compression = 6;
};

// Per-format numbers of a request's q= (q=avif:60,webp:75), which win over a plain q=N
// for their format. 0 = not given.
struct FormatQualities {
  int jpeg = 0;
  int webp = 0;
  int avif = 0;
  friend bool operator==(const FormatQualities&, const FormatQualities&) = default;
};

// What a request asks of `format`: its own number, else `any` (q=N, 0 when absent).
// The result goes to effective_quality() like a plain q=.
int requested_quality(Format format, int any, const FormatQualities& per_format);

// The quality `format` is encoded at: the requested one (q=, 0 when absent), else the
// format's default. Lossless formats (PNG, GIF) have no default and give 0.
int effective_quality(Format format, int requested, const Quality& defaults);

}  // namespace imageflex
