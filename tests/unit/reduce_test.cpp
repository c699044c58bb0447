// Our Lanczos 3 reduction (src/image/reduce.h): the taps' arithmetic, and pictures within
// a level of a double-precision reduction, where libvips 8.14's own 8-bit path is not.
#include "image/reduce.h"

#include <gtest/gtest.h>
#include <vips/vips8>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <numeric>
#include <vector>

#include "image/vips_runtime.h"

namespace imageflex {
namespace {

using vips::VImage;

TEST(ReduceTapsTest, EveryOutputsWeightsSumToOneAndStayInsideTheInput) {
  for (int in = 1; in <= 64; ++in) {
    for (int out = 1; out <= in; ++out) {
      const ReduceTaps taps = lanczos3_taps(in, out);
      ASSERT_EQ(taps.first.size(), static_cast<std::size_t>(out));
      for (int i = 0; i < out; ++i) {
        EXPECT_GE(taps.first[i], 0) << in << " -> " << out << " at " << i;
        EXPECT_LE(taps.first[i] + taps.count, in) << in << " -> " << out << " at " << i;
        const auto* weights = &taps.weights[static_cast<std::size_t>(i) * taps.count];
        EXPECT_EQ(std::accumulate(weights, weights + taps.count, 0), 1 << kReduceWeightBits)
            << in << " -> " << out << " at " << i;
      }
    }
  }
}

TEST(ReduceTapsTest, TheSameSizeKeepsEveryPixel) {
  const ReduceTaps taps = lanczos3_taps(40, 40);
  for (int i = 0; i < 40; ++i) {
    for (int k = 0; k < taps.count; ++k) {
      const bool own = taps.first[i] + k == i;
      EXPECT_EQ(taps.weights[static_cast<std::size_t>(i) * taps.count + k], own ? 1 << kReduceWeightBits : 0)
          << "pixel " << i << " tap " << k;
    }
  }
}

TEST(ReduceTapsTest, HalvingWeighsBothNeighboursOfTheCentreAlike) {
  // Output pixel i of a halving is centred between input pixels 2i and 2i + 1: away from
  // the edges, the weights mirror about that point and reach 3 output pixels (6 input) each way.
  const ReduceTaps taps = lanczos3_taps(200, 100);
  for (int i = 10; i < 90; ++i) {
    const auto weight = [&](int p) {
      const int k = p - taps.first[i];
      return k < 0 || k >= taps.count ? 0 : taps.weights[static_cast<std::size_t>(i) * taps.count + k];
    };
    for (int d = 0; d < 7; ++d) EXPECT_NEAR(weight(2 * i - d), weight(2 * i + 1 + d), 1) << i << " " << d;
    EXPECT_EQ(weight(2 * i - 6), 0);
    EXPECT_GT(weight(2 * i), 0);
    EXPECT_LT(weight(2 * i - 2), 0);  // Lanczos' negative lobe: what keeps edges sharp
  }
}

// Detail at every frequency: a zone plate, noise, and a fine grating, one per band.
VImage detailed(int width, int height) {
  VImage zone = (VImage::zone(width, height) + 1) * 127.5;
  VImage noise = VImage::gaussnoise(width, height, VImage::option()->set("mean", 128)->set("sigma", 50));
  VImage grating =
      (VImage::sines(width, height, VImage::option()->set("hfreq", 3)->set("vfreq", 2)) + 1) * 127.5;
  return VImage::bandjoin({zone, noise, grating}).cast(VIPS_FORMAT_UCHAR).copy_memory();
}

struct Difference {
  double mean;
  double max;
};

Difference difference(const VImage& a, const VImage& b) {
  const VImage d = (a.cast(VIPS_FORMAT_DOUBLE) - b.cast(VIPS_FORMAT_DOUBLE)).abs();
  return {d.avg(), d.max()};
}

double lanczos3(double x) {
  if (x == 0) return 1;
  if (std::abs(x) >= 3) return 0;
  return 3 * std::sin(M_PI * x) * std::sin(M_PI * x / 3) / (M_PI * M_PI * x * x);
}

// The reduction in double precision, straight from its definition and written apart from
// reduce.cpp: output pixel i centred on input position (i + 0.5) * scale, each pixel p
// weighed by lanczos3((p + 0.5 - centre) / scale), the weights normalised, pixels past an
// edge read from the edge; rows first, then columns, rounded once at the end.
VImage exact(const VImage& image, Size size) {
  const int width = image.width();
  const int height = image.height();
  const int bands = image.bands();
  std::size_t length = 0;
  auto* pixels = static_cast<std::uint8_t*>(image.write_to_memory(&length));
  // One axis: `out` values from `in` values `step` apart, via read(i) and write(i, value).
  const auto reduce_axis = [](int in, int out, const auto& read, const auto& write) {
    const double scale = static_cast<double>(in) / out;
    for (int i = 0; i < out; ++i) {
      const double centre = (i + 0.5) * scale;
      double sum = 0;
      double total = 0;
      for (int p = static_cast<int>(centre - 3 * scale) - 1; p <= centre + 3 * scale + 1; ++p) {
        const double weight = lanczos3((p + 0.5 - centre) / scale);
        sum += weight * read(std::clamp(p, 0, in - 1));
        total += weight;
      }
      write(i, sum / total);
    }
  };
  std::vector<double> down(static_cast<std::size_t>(width) * size.height * bands);
  for (int x = 0; x < width * bands; ++x) {
    reduce_axis(
        height, size.height, [&](int y) { return pixels[static_cast<std::size_t>(y) * width * bands + x]; },
        [&](int y, double v) { down[static_cast<std::size_t>(y) * width * bands + x] = v; });
  }
  g_free(pixels);
  std::vector<std::uint8_t> out(static_cast<std::size_t>(size.width) * size.height * bands);
  for (int y = 0; y < size.height; ++y) {
    for (int b = 0; b < bands; ++b) {
      const std::size_t row = static_cast<std::size_t>(y) * width * bands;
      reduce_axis(
          width, size.width, [&](int x) { return down[row + static_cast<std::size_t>(x) * bands + b]; },
          [&](int x, double v) {
            out[(static_cast<std::size_t>(y) * size.width + x) * bands + b] =
                static_cast<std::uint8_t>(std::clamp(std::lround(v), 0L, 255L));
          });
    }
  }
  return VImage(vips_image_new_from_memory_copy(out.data(), out.size(), size.width, size.height, bands,
                                                VIPS_FORMAT_UCHAR));
}

TEST(ReduceTest, PicturesAreWithinALevelOfADoublePrecisionReduction) {
  init_vips("unit_tests");
  const VImage image = detailed(640, 400);
  for (const Size size : {Size{512, 320}, Size{320, 200}, Size{250, 150}, Size{640, 213}}) {
    ASSERT_TRUE(reducible(image, size));
    const VImage ours = reduce_lanczos3(image, size);
    ASSERT_EQ(ours.width(), size.width);
    ASSERT_EQ(ours.height(), size.height);
    const Difference d = difference(ours, exact(image, size));
    EXPECT_LE(d.max, 1) << size.width << "x" << size.height;
    EXPECT_LT(d.mean, 0.02) << size.width << "x" << size.height;
  }
  // libvips 8.14's 8-bit reduce, with its 6-bit vertical weights, is not: the test can fail.
  const Size size{512, 320};
  const Difference theirs = difference(
      image.thumbnail_image(size.width, VImage::option()->set("height", size.height)), exact(image, size));
  EXPECT_GT(theirs.max, 1);
  EXPECT_GT(theirs.mean, 0.1);
}

TEST(ReduceTest, ASequentialDecodeIsReadInOrderAndGivesTheSamePicture) {
  // The pipeline decodes JPEG sequentially: a reduction that read lines out of order would
  // fail the save ("out of order read"). Tall, so the decode runs through many strips.
  init_vips("unit_tests");
  void* jpeg = nullptr;
  std::size_t length = 0;
  detailed(600, 2400).write_to_buffer(".jpg", &jpeg, &length);
  const auto load = [&](VipsAccess access) {
    return VImage::new_from_buffer(jpeg, length, "", VImage::option()->set("access", access));
  };
  const VImage streamed = reduce_lanczos3(load(VIPS_ACCESS_SEQUENTIAL), {250, 1000});
  void* png = nullptr;
  std::size_t png_length = 0;
  ASSERT_NO_THROW(streamed.write_to_buffer(".png", &png, &png_length));
  const VImage saved = VImage::new_from_buffer(png, png_length, "");
  EXPECT_EQ(difference(saved, reduce_lanczos3(load(VIPS_ACCESS_RANDOM), {250, 1000})).max, 0);
  g_free(png);
  g_free(jpeg);
}

TEST(ReduceTest, FlatAreasStayExactlyFlatAndGreyStaysOneBand) {
  init_vips("unit_tests");
  const VImage grey = (VImage::black(300, 200) + 77).cast(VIPS_FORMAT_UCHAR);
  const VImage reduced = reduce_lanczos3(grey, {160, 100});
  EXPECT_EQ(reduced.bands(), 1);
  EXPECT_EQ(reduced.min(), 77);
  EXPECT_EQ(reduced.max(), 77);
}

TEST(ReduceTest, OnlyEightBitPicturesWithoutAlphaShrunkAtMostThreeTimesAreOurs) {
  init_vips("unit_tests");
  const VImage rgb = detailed(300, 300);
  EXPECT_TRUE(reducible(rgb, {100, 100}));
  EXPECT_TRUE(reducible(rgb, {300, 300}));
  EXPECT_FALSE(reducible(rgb, {99, 100}));   // more than 3x: libvips shrinks by a box first
  EXPECT_FALSE(reducible(rgb, {301, 300}));  // enlarging
  EXPECT_FALSE(reducible(rgb.bandjoin_const({255}), {200, 200}));  // alpha: premultiplied by libvips
  EXPECT_FALSE(reducible(rgb.cast(VIPS_FORMAT_USHORT), {200, 200}));
}

}  // namespace
}  // namespace imageflex
