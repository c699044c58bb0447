// The image core: probe an original's header, then make one variant of it.
// Pure functions of bytes and plain structs; knows nothing about HTTP or storage.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "image/effects.h"
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

// How much of an original a header read fetches: JPEG and PNG headers, EXIF and ICC
// profile included, nearly always fit.
inline constexpr std::size_t kHeaderBytes = std::size_t{64} << 10;

// probe() on the first bytes of an original `whole_size` bytes long (the whole of it
// when bytes.size() >= whole_size). nullopt when the prefix cannot tell: a format whose
// probe may need the whole file (WebP and GIF frame counts, HEIF boxes, TIFF
// directories), or a header longer than the prefix. The limits are judged as probe()
// does, against whole_size; on the whole file, nullopt means corrupt.
std::optional<SourceInfo> probe_prefix(std::string_view bytes, std::uint64_t whole_size,
                                       const Limits& limits);

struct TransformSpec {
  GeometryRequest geometry;
  Format output = Format::kJpeg;
  int quality = 0;  // 0 = the default for the output format
  Effects effects;
  OutputOptions options;
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

// The largest side of the thumbnail describe() reads (ThumbHash takes at most 100).
inline constexpr int kDescribeSide = 100;

// JSON about an original: its upright width and height, format, frames, alpha, dominant
// colour and a base64 ThumbHash, from one decode of at most kDescribeSide pixels a side.
// Throws Error as transform() does.
std::string describe(std::string_view bytes, const SourceInfo& source, Deadline deadline);

}  // namespace imageflex
