#include "request/normalise.h"

#include <array>

#include "common/error.h"

namespace imageflex {
namespace {

// The first centre, edge or corner focal point that cuts as `request` does, else `request`.
GeometryRequest edge_focus(const GeometryRequest& request, Size source, const Plan& result) {
  for (double x : {0.5, 0.0, 1.0}) {
    for (double y : {0.5, 0.0, 1.0}) {
      GeometryRequest edge = request;
      edge.focus_x = x;
      edge.focus_y = y;
      if (plan_geometry(source, edge) == result) return edge;
    }
  }
  return request;
}

GeometryRequest normalise_geometry(const GeometryRequest& geometry, const SourceInfo& source, Format output) {
  const Plan result = plan_geometry(source.size, geometry);
  GeometryRequest normal = geometry;
  // The focus only places a cut: with nothing cut, or a focal point that cuts where the
  // centre does, it is the default (pos without fit=cover, fp=0.5,0.5, pos=center).
  GeometryRequest centred = geometry;
  centred.focus = Focus::kPoint;
  centred.focus_x = centred.focus_y = 0.5;
  if (result.crop == result.resize ||
      (geometry.focus == Focus::kPoint && plan_geometry(source.size, centred) == result)) {
    normal = centred;
  }
  // A focal point's coordinate along a side that is not cut places nothing, and one the
  // crop clamps to an edge is that edge (fp=0.95,0.5 may cut as pos=right does).
  if (normal.focus == Focus::kPoint) {
    if (result.crop.width == result.resize.width) normal.focus_x = 0.5;
    if (result.crop.height == result.resize.height) normal.focus_y = 0.5;
    normal = edge_focus(normal, source.size, result);
  }
  // The background shows only in a letterbox or under alpha flattened away; opaque white
  // on a picture without alpha is the default.
  const bool flattens = source.alpha && !supports_alpha(output);
  if (normal.background &&
      ((result.canvas == result.crop && !flattens) || (*normal.background == Rgba{} && !source.alpha))) {
    normal.background.reset();
  }
  // From the simplest sizes: the source's, then one side of the result, then as asked.
  auto sized = [&](int width, int height) {
    GeometryRequest candidate = normal;
    candidate.width = width;
    candidate.height = height;
    candidate.fit = Fit::kCover;
    candidate.enlarge = false;
    return candidate;
  };
  const std::array<GeometryRequest, 3> simpler = {
      sized(0, 0),
      sized(result.canvas.width, 0),
      sized(0, result.canvas.height),
  };
  for (const GeometryRequest& candidate : simpler) {
    if (plan_geometry(source.size, candidate) == result) return candidate;
  }
  return normal;
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
  if (!region_inside(source.size, request.geometry)) {
    throw Error(ErrorKind::kBadRequest, "crop must lie inside the image, which is " +
                                            std::to_string(source.size.width) + "x" +
                                            std::to_string(source.size.height));
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
  if (normal.effects.trim == 0) normal.geometry = normalise_geometry(request.geometry, source, output);
  // dpr is already in the sides: ?w=300&dpr=2 and ?w=600 are one variant.
  normal.dpr = 1.0;
  return normal;
}

}  // namespace imageflex
