// Pure output geometry: from the source size and the request to the sizes the
// pipeline cuts, rotates, resizes, crops and letterboxes to. No libvips here;
// unit-tested alone.
#pragma once

#include <cstdint>
#include <optional>

namespace imageflex {

enum class Fit {
  kCover,    // fill the box, crop the overflow at the focus (CSS object-fit: cover)
  kContain,  // fit within the box, letterbox the rest (object-fit: contain)
  kInside,   // fit within the box, no letterbox: the result may be smaller on one side
  kFill,     // stretch to the box, ignoring the aspect ratio
};

// Where fit=cover keeps its box: a focal point, or libvips' smart crop.
enum class Focus {
  kPoint,      // focus_x, focus_y: fractions 0-1 of the (rotated) picture
  kAttention,  // vips_smartcrop, interesting=attention (skin, saturation, edges)
  kEntropy,    // vips_smartcrop, interesting=entropy
};

struct Size {
  int width = 0;
  int height = 0;
  friend bool operator==(const Size&, const Size&) = default;
};

struct Point {
  int x = 0;
  int y = 0;
  friend bool operator==(const Point&, const Point&) = default;
};

// A rectangle of the upright original, in its pixels (crop=x,y,w,h).
struct Region {
  int x = 0;
  int y = 0;
  int width = 0;
  int height = 0;
  friend bool operator==(const Region&, const Region&) = default;
};

// A colour for letterboxes and for flattening alpha (bg=rrggbb[aa]).
struct Rgba {
  std::uint8_t r = 255;
  std::uint8_t g = 255;
  std::uint8_t b = 255;
  std::uint8_t a = 255;
  friend bool operator==(const Rgba&, const Rgba&) = default;
};

struct GeometryRequest {
  int width = 0;   // 0 = not given (already multiplied by dpr)
  int height = 0;  // 0 = not given
  Fit fit = Fit::kCover;
  bool enlarge = false;          // allow scaling beyond the source size
  std::optional<Region> region;  // cut first, from the upright original
  int rotate = 0;                // 0, 90, 180 or 270, clockwise, after EXIF orientation
  bool flip = false;             // top to bottom, after rotate
  bool flop = false;             // left to right, after rotate
  Focus focus = Focus::kPoint;
  double focus_x = 0.5;
  double focus_y = 0.5;
  std::optional<Rgba> background;  // nullopt: white, or transparent where the output keeps alpha
  friend bool operator==(const GeometryRequest&, const GeometryRequest&) = default;
};

struct Plan {
  Region region;      // cut from the upright source (the whole of it when no crop=)
  int rotate = 0;     // then rotated clockwise by this
  Size resize;        // then scaled to this (rotated size)
  Size crop;          // then cut to this (== resize when nothing is cut)
  Point crop_origin;  // where the cut starts in the resized picture (for Focus::kPoint)
  Size canvas;        // then placed centred on a canvas this big (== crop when no letterbox)
  friend bool operator==(const Plan&, const Plan&) = default;
};

// `source` is the upright size (after EXIF orientation). The caller checks
// region_inside() first; a region outside is clamped here.
Plan plan_geometry(Size source, const GeometryRequest& request);

// True when the request's region (if any) lies wholly inside the source.
bool region_inside(Size source, const GeometryRequest& request);

// A size as it is before a rotation by `degrees` (90 and 270 swap the sides).
Size unrotated(Size size, int degrees);

// Where a box of `box` in `picture` starts so that the focal point (fractions) is as
// near the box's centre as the picture allows.
Point focus_origin(Size picture, Size box, double focus_x, double focus_y);

}  // namespace imageflex
