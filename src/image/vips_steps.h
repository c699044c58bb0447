// Pipeline steps that work on libvips images, shared by the pipeline and by tools
// (bench/quality_sweep) that must measure exactly what the service serves.
#pragma once

#include <vips/vips8>

#include <string>

#include "image/format.h"
#include "image/quality.h"

namespace imageflex {

// To 8-bit sRGB (or 8-bit grey): through the embedded ICC profile when there is one
// (Display P3, Adobe RGB, CMYK, grey), with libvips' built-in CMYK profile for untagged
// CMYK, perceptual intent with black point compensation; the result carries no profile.
// 16-bit, LAB and other interpretations by colourspace conversion.
vips::VImage to_srgb8(const vips::VImage& image);

// Removes EXIF (with its thumbnail), XMP, IPTC, ICC and comments, keeping only what
// the encoders need (page-height, delay, loop).
vips::VImage without_metadata(const vips::VImage& image);

// Encodes with the per-format options; quality 0 means the configured default.
// Throws vips::VError.
std::string encode(const vips::VImage& image, Format format, int quality, const Quality& defaults);

}  // namespace imageflex
