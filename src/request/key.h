// Canonical, collision-free names for variants in the store.
//
//   _imageflex/v4/<original key>/<original version>/<canonical parameters>
//
// The original's key keeps photo.png and photo.jpg apart; its version (a digest of
// its ETag) makes a changed original miss instead of serving the old variant; the
// parameters are written in one fixed order with defaults resolved, so w=0300 and
// w=300, jpg and jpeg, or a reordered query all name one variant. The handler keys the
// request as normalise_request() resolves it (request/normalise.h), so URLs that make
// identical bytes (q on PNG, w beyond the original, Accept values that pick one format)
// name one variant too.
#pragma once

#include <string>

#include "image/quality.h"
#include "negotiate/accept.h"
#include "request/image_request.h"

namespace imageflex {

// Bump when the pipeline's output changes, so old variants are not served.
// v2: CMYK through its ICC profile. v3: keys name the normalised request (the chosen
// format instead of the Accept class, no q for PNG and GIF, the geometry the result
// really has), so v2 names would no longer be found for the same requests; v3 makes
// the new names start clean rather than mix with v2 names meaning other requests.
// v4: issue 11's geometry (crop focus, region, rotation, mirrors, background); a
// centred cover crop rounds its origin down on both axes as a focal point of 0.5,0.5.
inline constexpr std::string_view kPipelineVersion = "v4";

// A fit as the URL spells it (fit=cover), which keys use too.
std::string_view fit_name(Fit fit);

// The parameters part. Without f=, the negotiation input (which modern formats the
// client accepts) is part of the name, since the output format follows from it.
std::string canonical_parameters(const ImageRequest& request, const AcceptedFormats& accepted,
                                 const Quality& defaults);

std::string variant_key(const ImageRequest& request, const std::string& original_etag,
                        const AcceptedFormats& accepted, const Quality& defaults);

// A strong HTTP ETag (with quotes) for a variant, derived from its key.
std::string variant_etag(const std::string& variant_key);

}  // namespace imageflex
