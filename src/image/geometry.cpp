#include "image/geometry.h"

#include <algorithm>
#include <cmath>

namespace imageflex {
namespace {

int scaled(int length, double scale) {
  return std::max(1, static_cast<int>(std::lround(length * scale)));
}

Size scale_size(Size source, double scale) {
  return {scaled(source.width, scale), scaled(source.height, scale)};
}

}  // namespace

Plan plan_geometry(Size source, const GeometryRequest& request) {
  const double sx = request.width > 0 ? static_cast<double>(request.width) / source.width : 0;
  const double sy = request.height > 0 ? static_cast<double>(request.height) / source.height : 0;
  const double cap = request.enlarge ? HUGE_VAL : 1.0;

  // Neither side given (format or quality change only): keep the source size.
  if (sx == 0 && sy == 0) return {source, source, source};

  // One side given: keep the aspect ratio, whatever the fit.
  if (sx == 0 || sy == 0) {
    Size resized = scale_size(source, std::min(std::max(sx, sy), cap));
    return {resized, resized, resized};
  }

  switch (request.fit) {
    case Fit::kCover: {
      Size resized = scale_size(source, std::min(std::max(sx, sy), cap));
      Size cut{std::min(request.width, resized.width), std::min(request.height, resized.height)};
      return {resized, cut, cut};
    }
    case Fit::kContain: {
      Size resized = scale_size(source, std::min(std::min(sx, sy), cap));
      return {resized, resized, {request.width, request.height}};
    }
    case Fit::kInside: {
      Size resized = scale_size(source, std::min(std::min(sx, sy), cap));
      return {resized, resized, resized};
    }
    case Fit::kFill: {
      Size resized{request.width, request.height};
      if (!request.enlarge) {
        resized = {std::min(request.width, source.width), std::min(request.height, source.height)};
      }
      return {resized, resized, resized};
    }
  }
  return {source, source, source};
}

}  // namespace imageflex
