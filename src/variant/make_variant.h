// The one way a variant is made. The HTTP handler, the Lambda front and
// `imageflex convert` all call make_variant(), so they cannot drift apart:
// probe the original's header, choose the output format, transform.
#pragma once

#include <string_view>

#include "image/limits.h"
#include "image/pipeline.h"
#include "image/quality.h"
#include "negotiate/accept.h"
#include "request/image_request.h"

namespace imageflex {

// `request.format` set: that format; unset: the best one `accepted` allows for this
// source (choose_format). Throws Error as probe() and transform() do.
Encoded make_variant(std::string_view original, const ImageRequest& request, const AcceptedFormats& accepted,
                     const Limits& limits, const Quality& quality, Deadline deadline);

// ?meta: probe(), then describe() (image/pipeline.h): JSON about the original.
std::string describe_original(std::string_view original, const Limits& limits, Deadline deadline);

}  // namespace imageflex
