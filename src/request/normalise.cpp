#include "request/normalise.h"

#include <array>

namespace imageflex {
namespace {

GeometryRequest normalise_geometry(const GeometryRequest& geometry, Size source) {
  const Plan result = plan_geometry(source, geometry);
  // From the simplest: the source's size, then one side of the result, then as asked.
  const std::array<GeometryRequest, 3> simpler = {
      GeometryRequest{},
      GeometryRequest{result.canvas.width, 0, Fit::kCover, false},
      GeometryRequest{0, result.canvas.height, Fit::kCover, false},
  };
  for (const GeometryRequest& candidate : simpler) {
    if (plan_geometry(source, candidate) == result) return candidate;
  }
  return geometry;
}

}  // namespace

ImageRequest normalise_request(const ImageRequest& request, const SourceInfo& source,
                               const AcceptedFormats& accepted, const Quality& defaults) {
  // Metadata depends on the original alone: every other parameter is dropped.
  if (request.meta) {
    ImageRequest meta;
    meta.key = request.key;
    meta.meta = true;
    return meta;
  }
  ImageRequest normal = request;
  const Format output = request.format ? *request.format : choose_format(accepted, source);
  normal.format = output;
  // One quality for the format served: its own from q=avif:60,webp:75, else q=N.
  normal.quality = requested_quality(output, request.quality, request.quality_for);
  normal.quality_for = {};
  // Options the format has not are dropped: lossless is WebP's and AVIF's, progressive
  // JPEG's and PNG's.
  if (output != Format::kWebp && output != Format::kAvif) normal.options.lossless = false;
  if (output != Format::kJpeg && output != Format::kPng) normal.options.progressive = false;
  const int default_quality = effective_quality(output, 0, defaults);
  // Lossless encoders take no quality (default 0); a q equal to the default is the default.
  if (default_quality == 0 || normal.quality == default_quality || normal.options.lossless)
    normal.quality = 0;
  // Trim is for stills: an animation served animated keeps its border.
  if (supports_animation(output) && source.frames > 1) normal.effects.trim = 0;
  // The trimmed size is known only once decoded, so a trimmed geometry stays as asked.
  if (normal.effects.trim == 0) normal.geometry = normalise_geometry(request.geometry, source.size);
  return normal;
}

}  // namespace imageflex
