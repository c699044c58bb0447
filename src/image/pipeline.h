// The image core: probe an original's header, then make one variant of it.
// Pure functions of bytes and plain structs; knows nothing about HTTP or storage.
#pragma once

#include <string>
#include <string_view>

#include "common/config.h"
#include "image/format.h"
#include "image/geometry.h"
#include "image/vips_runtime.h"

namespace imageflex {

struct SourceInfo {
  Format format = Format::kJpeg;
  Size size;       // upright size of one frame (EXIF orientation applied)
  int frames = 1;  // animation frames (1 for stills and for formats we never animate)
  bool alpha = false;
  bool cmyk = false;  // ink values: converted to sRGB before resizing (see transform)
  bool animated() const { return frames > 1; }
};

// Reads only the header: format from the magic bytes, then size, frames and alpha.
// Enforces the byte, pixel and frame limits before any pixel is decoded.
// Throws Error: kUnsupportedMedia, kUnprocessable, kTooLarge.
SourceInfo probe(std::string_view bytes, const Limits& limits);

struct TransformSpec {
  GeometryRequest geometry;
  Format output = Format::kJpeg;
  int quality = 0;  // 0 = the default for the output format
};

struct Encoded {
  std::string bytes;
  Format format = Format::kJpeg;
  Size size;  // one frame
  int frames = 1;
};

// Makes the variant. Throws Error: kUnprocessable (corrupt data), kTimeout (deadline
// passed; the computation is killed), kTooLarge (result beyond max_output_dimension).
Encoded transform(std::string_view bytes, const SourceInfo& source, const TransformSpec& spec,
                  const Limits& limits, const Quality& quality, Deadline deadline);

}  // namespace imageflex
