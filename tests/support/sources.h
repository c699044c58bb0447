// What a probe would have said of an image, for tests of the planning that follows it
// (cost, normalisation, AVIF deferral) without an image to probe.
#pragma once

#include "image/source.h"

namespace imageflex::test {

inline SourceInfo source_of(Format format, int width, int height, int frames = 1) {
  return {.format = format, .size = {width, height}, .frames = frames};
}

}  // namespace imageflex::test
