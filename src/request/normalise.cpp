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
  ImageRequest normal = request;
  const Format output = request.format ? *request.format : choose_format(accepted, source);
  normal.format = output;
  const int default_quality = effective_quality(output, 0, defaults);
  // Lossless encoders take no quality (default 0); a q equal to the default is the default.
  if (default_quality == 0 || request.quality == default_quality) normal.quality = 0;
  normal.geometry = normalise_geometry(request.geometry, source.size);
  return normal;
}

}  // namespace imageflex
