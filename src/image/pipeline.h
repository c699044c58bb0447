// The image core: probe an original's header, then make one variant of it.
// Pure functions of bytes and plain structs; knows nothing about HTTP or storage.
#pragma once

#include <string>
#include <string_view>

#include "image/format.h"
#include "image/geometry.h"
#include "image/limits.h"
#include "image/quality.h"
#include "image/source.h"
#include "image/vips_runtime.h"

namespace imageflex {

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

// Makes the variant. Throws Error: kBadRequest (the result would exceed
// max_output_dimension), kUnprocessable (corrupt data), kTimeout (deadline passed;
// the computation is killed).
Encoded transform(std::string_view bytes, const SourceInfo& source, const TransformSpec& spec,
                  const Limits& limits, const Quality& quality, Deadline deadline);

}  // namespace imageflex
