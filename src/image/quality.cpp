#include "image/quality.h"

namespace imageflex {

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
