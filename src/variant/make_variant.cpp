#include "variant/make_variant.h"

namespace imageflex {

Encoded make_variant(std::string_view original, const ImageRequest& request, const AcceptedFormats& accepted,
                     const Limits& limits, const Quality& quality, Deadline deadline) {
  // The header alone: limits are enforced before any pixel is decoded.
  const SourceInfo source = probe(original, limits);
  // The format follows from the source's traits (alpha, animation) when not asked for.
  const Format output = request.format ? *request.format : choose_format(accepted, source);
  // q=avif:60,webp:75 becomes the one quality of the format chosen.
  const int requested = requested_quality(output, request.quality, request.quality_for);
  return transform(original, source, {request.geometry, output, requested, request.effects, request.options},
                   limits, quality, deadline);
}

std::string describe_original(std::string_view original, const Limits& limits, Deadline deadline) {
  return describe(original, probe(original, limits), deadline);
}

}  // namespace imageflex
