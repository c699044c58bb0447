#include "image/vips_runtime.h"

#include <gtest/gtest.h>
#include <vips/vips8>

#include <string>

namespace imageflex {
namespace {

// After init_vips, only the loaders we serve can run: SVG (librsvg), PDF, ImageMagick
// and the rest are blocked inside the process, not only by our magic-byte check.
TEST(VipsRuntimeTest, OnlyTheServedLoadersCanRun) {
  init_vips("unit_tests");
  const std::string svg =
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"><rect width=\"10\" "
      "height=\"10\"/></svg>";
  EXPECT_THROW(vips::VImage::new_from_buffer(svg.data(), svg.size(), "").width(), vips::VError);
  const std::string pgm = "P2\n2 2\n255\n0 0 0 0\n";  // PPM/PGM: a libvips loader we do not serve
  EXPECT_THROW(vips::VImage::new_from_buffer(pgm.data(), pgm.size(), "").width(), vips::VError);

  void* png = nullptr;
  std::size_t length = 0;
  vips::VImage::black(4, 4).write_to_buffer(".png", &png, &length);
  vips::VImage loaded = vips::VImage::new_from_buffer(png, length, "");
  EXPECT_EQ(loaded.width(), 4);
  g_free(png);
  EXPECT_EQ(vips_cache_get_max(), 0) << "no operation cache in a server";
  EXPECT_EQ(vips_concurrency_get(), 1) << "one libvips thread per job";
}

}  // namespace
}  // namespace imageflex
