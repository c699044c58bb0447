// What a request will really make, once the original's header is known, so that URLs
// whose outputs are identical name one stored variant (and one ETag).
#pragma once

#include "image/quality.h"
#include "image/source.h"
#include "negotiate/accept.h"
#include "request/image_request.h"

namespace imageflex {

// The request as the variant it makes, with every choice resolved:
// - format: the one served (f=, else choose_format(accepted, source)), so Accept values
//   that pick the same format share a variant (and f=webp shares with a WebP Accept);
// - quality: 0 for lossless outputs (PNG, GIF: q changes nothing) and for the default;
// - geometry: the simplest request with the same plan_geometry() result: no sides when
//   the result is the source's size (w at or beyond the original without enlarge),
//   else the result's width alone or its height alone, else the request as it was
//   (crops and letterboxes). Only a geometry whose plan is equal is chosen, and the
//   pipeline reads the geometry only through the plan, so the output is the same.
ImageRequest normalise_request(const ImageRequest& request, const SourceInfo& source,
                               const AcceptedFormats& accepted, const Quality& defaults);

}  // namespace imageflex
