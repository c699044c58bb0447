// AVIF that never makes a browser wait: when an AVIF chosen from Accept would take longer
// to encode than a budget, the WebP is served now and the AVIF made in the background
// (http/handler.cpp), so the next request gets it. Pure; unit-tested alone.
#pragma once

#include <cstdint>
#include <optional>

#include "image/format.h"
#include "image/geometry.h"
#include "image/source.h"
#include "negotiate/accept.h"

namespace imageflex {

// How long a cached stand-in WebP may be kept (Cache-Control max-age, seconds): long
// enough to absorb a burst, short enough that CDNs ask again once the AVIF is made.
inline constexpr int kStandInMaxAgeSeconds = 30;

struct AvifDeferral {
  Format now = Format::kWebp;  // the format served at once
  double estimate_ms = 0;      // the AVIF's estimated encode time, over the budget
};

// The format to serve now instead of `output`, or nullopt to make `output` now. Only an
// AVIF negotiated from Accept waits (`negotiated`: no f= in the URL); f=avif is an explicit
// order and is made now. `budget_ms` 0 turns deferral off. The stand-in is what negotiation
// picks without AVIF: WebP for the AVIF class (which always accepts WebP).
std::optional<AvifDeferral> defer_avif(Format output, bool negotiated, const AcceptedFormats& accepted,
                                       const SourceInfo& source, const Plan& plan, int avif_effort,
                                       int budget_ms);

}  // namespace imageflex
