#include "image/quality.h"

namespace imageflex {

int requested_quality(Format format, int any, const FormatQualities& per_format) {
  int own = 0;
  if (format == Format::kJpeg) own = per_format.jpeg;
  if (format == Format::kWebp) own = per_format.webp;
  if (format == Format::kAvif) own = per_format.avif;
  return own > 0 ? own : any;
}

int effective_quality(Format format, int requested, const Quality& defaults) {
  if (requested > 0) return requested;
  switch (format) {
    case Format::kJpeg: return defaults.jpeg;
    case Format::kWebp: return defaults.webp;
    case Format::kAvif: return defaults.avif;
    default: return 0;  // lossless: nothing to choose
  }
}

}  // namespace imageflex
