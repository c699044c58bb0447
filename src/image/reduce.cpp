#include "image/reduce.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <memory>
#include <numbers>

namespace imageflex {
namespace {

using vips::VImage;

// The vertical pass keeps 6 bits below the pixel in 16-bit sums (2^14 weights, shifted by
// 8): rounding once, at the end, instead of after each pass. Ringing stays far inside int16
// (255 * 64 * 1.3), and the horizontal pass's 32-bit sums far inside int32.
constexpr int kRowShift = kReduceWeightBits - 6;
constexpr int kOutShift = kReduceWeightBits + 6;
constexpr std::int32_t kRowRounding = 1 << (kRowShift - 1);
constexpr std::int32_t kOutRounding = 1 << (kOutShift - 1);

double lanczos3(double x) {
  if (x == 0) return 1;
  if (x <= -3 || x >= 3) return 0;
  const double pi_x = std::numbers::pi * x;
  return 3 * std::sin(pi_x) * std::sin(pi_x / 3) / (pi_x * pi_x);
}

// What an output image computes from: its input (a reference, dropped with the output) and
// the taps of both axes. Shared read-only by the threads computing strips of it.
struct Reduction {
  Reduction(VipsImage* image, ReduceTaps across_taps, ReduceTaps down_taps)
      : in(image), bands(image->Bands), across(std::move(across_taps)), down(std::move(down_taps)) {
    g_object_ref(in);
  }
  ~Reduction() { g_object_unref(in); }
  Reduction(const Reduction&) = delete;
  Reduction& operator=(const Reduction&) = delete;

  VipsImage* in;
  int bands;
  ReduceTaps across;
  ReduceTaps down;
};

// One thread's state: its window on the input, and the sums of one row.
struct Strip {
  VipsRegion* region;
  std::vector<std::int32_t> sums;
  std::vector<std::int16_t> row;
};

// The vertical pass of one output row: `values` sums down `count` input lines, `stride` bytes
// apart. The inner loop is the same weight across the row, which vectorises; AVX2 where the
// CPU has it (chosen when the program loads).
[[gnu::target_clones("avx2", "default")]] void sum_down(const VipsPel* top, std::ptrdiff_t stride,
                                                        const std::int16_t* weights, int count, int values,
                                                        std::int32_t* sums, std::int16_t* row) {
  std::fill(sums, sums + values, kRowRounding);
  for (int k = 0; k < count; ++k) {
    const std::int32_t weight = weights[k];
    if (weight == 0) continue;
    const VipsPel* line = top + k * stride;
    for (int i = 0; i < values; ++i) sums[i] += weight * line[i];
  }
  for (int i = 0; i < values; ++i) row[i] = static_cast<std::int16_t>(sums[i] >> kRowShift);
}

// The horizontal pass: output pixels [left, left + width) of a row whose first value is
// input column `origin`.
template <int kBands>
[[gnu::always_inline]] inline void sum_across_bands(const std::int16_t* row, int origin,
                                                    const ReduceTaps& taps, int left, int width,
                                                    VipsPel* out) {
  const int count = taps.count;
  for (int x = 0; x < width; ++x) {
    const int i = left + x;
    const std::int16_t* weights = &taps.weights[static_cast<std::size_t>(i) * count];
    const std::int16_t* in = row + static_cast<std::ptrdiff_t>(taps.first[i] - origin) * kBands;
    std::int32_t sums[kBands];
    std::fill(sums, sums + kBands, kOutRounding);
    for (int k = 0; k < count; ++k) {
      for (int b = 0; b < kBands; ++b) sums[b] += weights[k] * in[k * kBands + b];
    }
    for (int b = 0; b < kBands; ++b)
      out[x * kBands + b] = static_cast<VipsPel>(std::clamp(sums[b] >> kOutShift, 0, 255));
  }
}

[[gnu::target_clones("avx2", "default")]] void sum_across(int bands, const std::int16_t* row, int origin,
                                                          const ReduceTaps& taps, int left, int width,
                                                          VipsPel* out) {
  if (bands == 1) {
    sum_across_bands<1>(row, origin, taps, left, width, out);
  } else {
    sum_across_bands<3>(row, origin, taps, left, width, out);
  }
}

void* start_strip(VipsImage* /*out*/, void* a, void* /*b*/) {
  return new Strip{vips_region_new(static_cast<Reduction*>(a)->in), {}, {}};
}

int stop_strip(void* sequence, void* /*a*/, void* /*b*/) {
  auto* strip = static_cast<Strip*>(sequence);
  g_object_unref(strip->region);
  delete strip;
  return 0;
}

// Computes the output area libvips asks for: the input rows and columns its taps reach,
// then each output row down and across.
int generate_strip(VipsRegion* out, void* sequence, void* a, void* /*b*/, gboolean* /*stop*/) {
  Strip& strip = *static_cast<Strip*>(sequence);
  const Reduction& reduction = *static_cast<const Reduction*>(a);
  const VipsRect& area = out->valid;
  const int right = area.left + area.width - 1;
  const int bottom = area.top + area.height - 1;
  VipsRect need;
  need.left = reduction.across.first[area.left];
  need.width = reduction.across.first[right] + reduction.across.count - need.left;
  need.top = reduction.down.first[area.top];
  need.height = reduction.down.first[bottom] + reduction.down.count - need.top;
  if (vips_region_prepare(strip.region, &need) != 0) return -1;

  const int values = need.width * reduction.bands;
  strip.sums.resize(values);
  strip.row.resize(values);
  const std::ptrdiff_t stride = VIPS_REGION_LSKIP(strip.region);
  for (int y = area.top; y <= bottom; ++y) {
    sum_down(VIPS_REGION_ADDR(strip.region, need.left, reduction.down.first[y]), stride,
             &reduction.down.weights[static_cast<std::size_t>(y) * reduction.down.count],
             reduction.down.count, values, strip.sums.data(), strip.row.data());
    sum_across(reduction.bands, strip.row.data(), need.left, reduction.across, area.left, area.width,
               VIPS_REGION_ADDR(out, area.left, y));
  }
  return 0;
}

}  // namespace

ReduceTaps lanczos3_taps(int in, int out) {
  const double scale = static_cast<double>(in) / out;
  const double support = 3 * scale;  // the kernel's reach, in input pixels
  ReduceTaps taps;
  taps.count = std::min(in, 2 * static_cast<int>(std::ceil(support)) + 2);
  taps.first.resize(out);
  taps.weights.assign(static_cast<std::size_t>(out) * taps.count, 0);
  std::vector<double> folded(taps.count);
  for (int i = 0; i < out; ++i) {
    const double centre = (i + 0.5) * scale;  // input pixel p covers [p, p + 1)
    const int low = static_cast<int>(std::floor(centre - support));
    const int high = static_cast<int>(std::ceil(centre + support));
    const int first = std::clamp(low, 0, in - taps.count);
    std::fill(folded.begin(), folded.end(), 0.0);
    double total = 0;
    for (int p = low; p <= high; ++p) {
      const double weight = lanczos3((p + 0.5 - centre) / scale);
      // Past an edge, the edge pixel's (libvips' "extend copy"). The count leaves room for
      // every pixel the kernel reaches; the clamp only guards that arithmetic.
      folded[std::clamp(std::clamp(p, 0, in - 1) - first, 0, taps.count - 1)] += weight;
      total += weight;
    }
    // To integers summing to exactly 2^14: the rounding's remainder goes to the largest.
    std::int16_t* weights = &taps.weights[static_cast<std::size_t>(i) * taps.count];
    int sum = 0;
    int largest = 0;
    for (int k = 0; k < taps.count; ++k) {
      weights[k] = static_cast<std::int16_t>(std::lround(folded[k] / total * (1 << kReduceWeightBits)));
      sum += weights[k];
      if (weights[k] > weights[largest]) largest = k;
    }
    weights[largest] = static_cast<std::int16_t>(weights[largest] + (1 << kReduceWeightBits) - sum);
    taps.first[i] = first;
  }
  return taps;
}

bool reducible(const VImage& image, Size size) {
  const bool bands_ok = image.bands() == 1 || image.bands() == 3;
  const bool shrinks =
      size.width >= 1 && size.height >= 1 && size.width <= image.width() && size.height <= image.height();
  return image.format() == VIPS_FORMAT_UCHAR && image.coding() == VIPS_CODING_NONE && bands_ok && shrinks &&
         image.width() <= kMaxReduceFactor * size.width && image.height() <= kMaxReduceFactor * size.height;
}

VImage reduce_lanczos3(const VImage& image, Size size) {
  VipsImage* in = image.get_image();
  auto reduction = std::make_unique<Reduction>(in, lanczos3_taps(image.width(), size.width),
                                               lanczos3_taps(image.height(), size.height));
  const int margin = std::max(reduction->across.count, reduction->down.count);
  VImage out(vips_image_new());
  VipsImage* made = out.get_image();
  // Full-width strips: the vertical pass wants whole rows, and a sequential decode gives them in order.
  if (vips_image_pipelinev(made, VIPS_DEMAND_STYLE_THINSTRIP, in, nullptr) != 0) throw vips::VError();
  made->Xsize = size.width;
  made->Ysize = size.height;
  // The output owns the reduction from here: freed when the output is.
  Reduction* owned = reduction.release();
  g_object_set_data_full(G_OBJECT(made), "imageflex-reduction", owned,
                         [](gpointer data) { delete static_cast<Reduction*>(data); });
  if (vips_image_generate(made, start_strip, generate_strip, stop_strip, owned, nullptr) != 0) {
    throw vips::VError();
  }
  vips_reorder_margin_hint(made, margin);
  // As libvips' own reduce does: behind a sequential decode, a cache of recent output lines,
  // so a thread that falls behind never asks the decoder for lines it has passed.
  if (vips_image_is_sequential(made)) return out.sequential(VImage::option()->set("tile_height", 10));
  return out;
}

}  // namespace imageflex
