// What the header of an original says about it: the facts that decide how a variant
// is made (its size) and in which format it may be served (alpha, animation).
#pragma once

#include "image/format.h"
#include "image/geometry.h"

namespace imageflex {

struct SourceInfo {
  Format format = Format::kJpeg;
  Size size;       // upright size of one frame (EXIF orientation applied)
  int frames = 1;  // animation frames (1 for stills and for formats we never animate)
  bool alpha = false;
  bool cmyk = false;         // ink values: converted to sRGB before resizing (see transform)
  int bands = 3;             // channels as decoded (alpha included)
  bool progressive = false;  // JPEG decoded whole-image (its coefficients buffered), not by strips
  bool interlaced = false;   // PNG (Adam7): decoded whole before any row is ready
  bool animated() const { return frames > 1; }
};

}  // namespace imageflex
