// Pure output geometry: from the source size and the request to the sizes the
// pipeline resizes, crops and letterboxes to. No libvips here; unit-tested alone.
#pragma once

namespace imageflex {

enum class Fit {
  kCover,    // fill the box, crop the overflow, centred (CSS object-fit: cover)
  kContain,  // fit within the box, letterbox the rest (object-fit: contain)
  kInside,   // fit within the box, no letterbox: the result may be smaller on one side
  kFill,     // stretch to the box, ignoring the aspect ratio
};

struct Size {
  int width = 0;
  int height = 0;
  friend bool operator==(const Size&, const Size&) = default;
};

struct GeometryRequest {
  int width = 0;   // 0 = not given
  int height = 0;  // 0 = not given
  Fit fit = Fit::kCover;
  bool enlarge = false;  // allow scaling beyond the source size
  friend bool operator==(const GeometryRequest&, const GeometryRequest&) = default;
};

struct Plan {
  Size resize;  // the whole source is scaled to this
  Size crop;    // then cut to this, centred (== resize when nothing is cut)
  Size canvas;  // then placed centred on a canvas this big (== crop when no letterbox)
  friend bool operator==(const Plan&, const Plan&) = default;
};

// `source` is the upright size (after EXIF orientation).
Plan plan_geometry(Size source, const GeometryRequest& request);

}  // namespace imageflex
