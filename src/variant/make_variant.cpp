#include "variant/make_variant.h"

namespace imageflex {

Encoded make_variant(std::string_view original, const ImageRequest& request, const AcceptedFormats& accepted,
                     const Limits& limits, const Quality& quality, Deadline deadline) {
  // The header alone: limits are enforced before any pixel is decoded.
  const SourceInfo source = probe(original, limits);
  // The format follows from the source's traits (alpha, animation) when not asked for.
  const Format output = request.format ? *request.format : choose_format(accepted, source);
  return transform(original, source, {request.geometry, output, request.quality}, limits, quality, deadline);
}

}  // namespace imageflex
