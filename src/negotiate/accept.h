// Content negotiation: the Accept header and the source's traits → output format.
#pragma once

#include <string_view>

#include "image/format.h"
#include "image/source.h"

namespace imageflex {

// What the client explicitly accepts among the modern formats. Only an explicit
// image/avif or image/webp range with q > 0 counts: */* and image/* do not, since
// browsers that decode AVIF/WebP name them.
struct AcceptedFormats {
  bool avif = false;
  bool webp = false;
  friend bool operator==(const AcceptedFormats&, const AcceptedFormats&) = default;
};

AcceptedFormats parse_accept(std::string_view header);

// AVIF if accepted, else WebP, else the source's own format when browsers all show it
// (JPEG, PNG, GIF), else JPEG (PNG with alpha). Animations keep moving: WebP or GIF.
Format choose_format(const AcceptedFormats& accepted, const SourceInfo& source);

}  // namespace imageflex
