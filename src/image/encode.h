// Encoding: the metadata a variant drops, the per-format saver options, and the
// fix-ups libvips' savers need. Shared by the pipeline and by tools
// (bench/quality_sweep) that must measure exactly what the service serves.
#pragma once

#include <vips/vips8>

#include <string>
#include <string_view>

#include "image/effects.h"
#include "image/format.h"
#include "image/quality.h"

namespace imageflex {

// Removes EXIF (with its thumbnail), XMP, IPTC, ICC and comments, keeping only what
// the encoders need (page-height, delay, loop).
vips::VImage without_metadata(const vips::VImage& image);

// Encodes with the per-format options; quality 0 means the configured default. `options`
// apply where the format has them (lossless WebP/AVIF, progressive JPEG, interlaced PNG).
// Throws vips::VError.
std::string encode(const vips::VImage& image, Format format, int quality, const Quality& defaults,
                   const OutputOptions& options = {});

// Drops the EXIF, XMP and ICC chunks from a WebP file and clears their VP8X flags.
// libvips 8.14's webpsave writes EXIF even when asked to strip. Input that is not
// a well-formed RIFF/WebP file is returned unchanged.
std::string strip_webp_metadata(std::string_view webp);

}  // namespace imageflex
