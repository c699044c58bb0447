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

struct Sizes {
  Size resize;
  Size crop;
  Size canvas;
};

// The w/h/fit/enlarge arithmetic on the picture as it is after region and rotation.
Sizes fit_sizes(Size source, const GeometryRequest& request) {
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

int focus_offset(int picture, int box, double focus) {
  const int wanted = static_cast<int>(std::floor(focus * picture - box / 2.0));
  return std::clamp(wanted, 0, std::max(0, picture - box));
}

}  // namespace

Size unrotated(Size size, int degrees) {
  return degrees == 90 || degrees == 270 ? Size{size.height, size.width} : size;
}

Point focus_origin(Size picture, Size box, double focus_x, double focus_y) {
  return {focus_offset(picture.width, box.width, focus_x), focus_offset(picture.height, box.height, focus_y)};
}

bool region_inside(Size source, const GeometryRequest& request) {
  if (!request.region) return true;
  const Region& r = *request.region;
  return r.x >= 0 && r.y >= 0 && r.width >= 1 && r.height >= 1 && r.x + r.width <= source.width &&
         r.y + r.height <= source.height;
}

Plan plan_geometry(Size source, const GeometryRequest& request) {
  Plan plan;
  plan.region = {0, 0, source.width, source.height};
  if (request.region) {
    const Region& r = *request.region;
    const int x = std::clamp(r.x, 0, source.width - 1);
    const int y = std::clamp(r.y, 0, source.height - 1);
    plan.region = {x, y, std::clamp(r.width, 1, source.width - x),
                   std::clamp(r.height, 1, source.height - y)};
  }
  plan.rotate = request.rotate;
  const Size picture = unrotated({plan.region.width, plan.region.height}, request.rotate);
  const Sizes sizes = fit_sizes(picture, request);
  plan.resize = sizes.resize;
  plan.crop = sizes.crop;
  plan.canvas = sizes.canvas;
  // Smart crops are placed by libvips; a focal point is placed here.
  if (request.focus == Focus::kPoint) {
    plan.crop_origin = focus_origin(plan.resize, plan.crop, request.focus_x, request.focus_y);
  }
  return plan;
}

}  // namespace imageflex
