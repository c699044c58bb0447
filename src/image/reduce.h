// Lanczos 3 reduction of 8-bit pictures: the resize step of nearly every miss.
//
// Why our own and not libvips' reduce: libvips 8.14 reduces vertically with weights of six
// fractional bits (its Orc path), which blurs enough to cost SSIM (0.0004 under sharp's
// libvips 8.17 on the benchmark photos), and horizontally with a scalar loop that was most of
// the resize's CPU (3.5 of 4.5 ms for 640x400 to 512x320). Here the weights have 14 bits and
// both passes are loops the compiler vectorises: about 2 ms, sharper, as a lazy libvips image.
#pragma once

#include <cstdint>
#include <vector>
#include <vips/vips8>

#include "image/geometry.h"

namespace imageflex {

inline constexpr int kReduceWeightBits = 14;     // weights are in 1/16384ths
inline constexpr double kMaxReduceFactor = 3.0;  // beyond it, libvips' box shrink first is cheaper

// One axis of a reduction: output pixel i is the sum over k < count of
// weights[i * count + k] * input[first[i] + k], divided by 2^14. Each output's weights sum
// to exactly 2^14, so flat areas stay exactly flat, and first[i] + count never passes the
// input: taps beyond an edge are folded onto the edge pixel (libvips' "extend copy").
struct ReduceTaps {
  int count = 0;
  std::vector<int> first;
  std::vector<std::int16_t> weights;
};

// Lanczos 3 from `in` pixels to `out` (1 <= out <= in), pixel centres aligned: output pixel
// i is centred on input position (i + 0.5) * in / out, the kernel stretched by in / out.
ReduceTaps lanczos3_taps(int in, int out);

// Whether reduce_lanczos3 can make `size` from `image`: 8-bit, one or three bands (alpha
// needs premultiplying: libvips' thumbnail does that), shrinking both axes by at most
// kMaxReduceFactor.
bool reducible(const vips::VImage& image, Size size);

// `image` reduced to `size` (reducible() must hold), computed as the image is read, strip
// by strip, like any libvips operation. Metadata (EXIF orientation included) is carried over.
vips::VImage reduce_lanczos3(const vips::VImage& image, Size size);

}  // namespace imageflex
