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

// The three outcomes negotiation can have. AVIF counts only together with WebP: every
// browser that decodes AVIF also decodes WebP, and an animation (never AVIF) falls back
// to animated WebP, so a client naming AVIF alone is served like one naming neither.
// The CDN collapses Accept to these classes (deploy/aws/functions/viewer-request.js),
// so that Accept can be in its cache key without splitting the cache.
enum class AcceptClass { kAvif, kWebp, kOther };

AcceptClass accept_class(const AcceptedFormats& accepted);

// "avif", "webp" or "other".
std::string_view accept_class_name(AcceptClass accept_class);

// The Accept value the CDN writes for a class; it parses back to the same class.
std::string_view canonical_accept(AcceptClass accept_class);

// AVIF if the class is avif, else WebP if webp, else the source's own format when browsers all show it
// (JPEG, PNG, GIF), else JPEG (PNG with alpha). Animations keep moving: WebP or GIF.
Format choose_format(const AcceptedFormats& accepted, const SourceInfo& source);

}  // namespace imageflex
