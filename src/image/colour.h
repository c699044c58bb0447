// Colour: every picture leaves the pipeline as 8-bit sRGB (or 8-bit grey).
#pragma once

#include <vips/vips8>

namespace imageflex {

// To 8-bit sRGB (or 8-bit grey): through the embedded ICC profile when there is one
// (Display P3, Adobe RGB, CMYK, grey), with libvips' built-in CMYK profile for untagged
// CMYK, perceptual intent with black point compensation; the result carries no profile.
// 16-bit, LAB and other interpretations by colourspace conversion.
vips::VImage to_srgb8(const vips::VImage& image);

// Whether `image` (8-bit sRGB) carries a profile that converting through moves no channel by
// more than one level: judged by converting a probe of 5120 colours once per distinct
// profile, then remembered.
bool profile_is_srgb(const vips::VImage& image);

}  // namespace imageflex
