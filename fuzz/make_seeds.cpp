// make_seeds DIR: writes the pipeline target's committed seeds, tiny images (16x16) of
// every format, mode and path the pipeline treats apart, each followed by the four
// bytes that choose its variant (pipeline_fuzzer.cpp). Each seed is checked to make a
// variant, so none is a dud. Built on demand only: cmake --build build-fuzz --target make_seeds
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <vips/vips8>

#include "common/error.h"
#include "image/pipeline.h"

namespace {

using vips::VImage;

// A gradient, so that resizing and compression have something to do.
VImage picture(int width, int height) {
  VImage xy = VImage::xyz(width, height);
  VImage x = xy[0] * (255.0 / width);
  VImage y = xy[1] * (255.0 / height);
  return x.bandjoin(y)
      .bandjoin((x + y) / 2)
      .cast(VIPS_FORMAT_UCHAR)
      .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
}

std::string save(const VImage& image, const char* suffix, vips::VOption* options = nullptr) {
  void* buffer = nullptr;
  std::size_t size = 0;
  image.write_to_buffer(suffix, &buffer, &size, options);
  std::string bytes(static_cast<const char*>(buffer), size);
  g_free(buffer);
  return bytes;
}

VImage animation(int frames) {
  std::vector<VImage> pages;
  for (int i = 0; i < frames; ++i)
    pages.push_back(picture(16, 16).rot90().linear(1.0, i * 40.0).cast(VIPS_FORMAT_UCHAR));
  VImage strip = VImage::arrayjoin(pages, VImage::option()->set("across", 1)).copy();
  strip.set("page-height", 16);
  strip.set("delay", std::vector<int>(frames, 100));
  return strip;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds DIR\n");
    return 2;
  }
  imageflex::init_vips(argv[0]);
  const std::string dir = argv[1];
  const VImage rgb = picture(16, 16);
  const VImage rgba = rgb.bandjoin(VImage::xyz(16, 16)[0].linear(16.0, 0.0).cast(VIPS_FORMAT_UCHAR));
  VImage exif6 = picture(16, 8).copy();
  exif6.set("orientation", 6);

  // name, bytes, then the choice bytes: output (& 3: jpeg, png, webp, gif; >> 2: quality), w, h, fit |
  // enlarge.
  struct Seed {
    const char* name;
    std::string bytes;
    std::string choice;
  };
  const std::vector<Seed> seeds = {
      {"rgb.jpg", save(rgb, ".jpg", VImage::option()->set("Q", 50)), std::string("\x02\x20\x20\x00", 4)},
      {"progressive.jpg", save(rgb, ".jpg", VImage::option()->set("interlace", true)),
       std::string("\x01\x14\x00\x00", 4)},
      {"grey.jpg", save(rgb.colourspace(VIPS_INTERPRETATION_B_W), ".jpg"),
       std::string("\x28\x00\x0a\x00", 4)},
      {"exif6.jpg", save(exif6, ".jpg"), std::string("\x02\x10\x08\x01", 4)},
      {"cmyk.jpg",
       save(rgb.colourspace(VIPS_INTERPRETATION_CMYK), ".jpg", VImage::option()->set("strip", true)),
       std::string("\x00\x08\x08\x03", 4)},
      {"alpha.png", save(rgba, ".png"), std::string("\x00\x30\x18\x01", 4)},
      {"palette.png", save(rgba, ".png", VImage::option()->set("palette", true)),
       std::string("\x03\x0c\x0c\x00", 4)},
      {"deep16.png",
       save(rgb.cast(VIPS_FORMAT_USHORT)
                .linear(256.0, 0.0)
                .cast(VIPS_FORMAT_USHORT)
                .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_RGB16)),
            ".png"),
       std::string("\x02\x40\x40\x06", 4)},
      {"lossy.webp", save(rgb, ".webp", VImage::option()->set("Q", 40)), std::string("\x00\x07\x00\x00", 4)},
      {"alpha.webp", save(rgba, ".webp", VImage::option()->set("lossless", true)),
       std::string("\x01\x20\x10\x02", 4)},
      {"animated.gif", save(animation(3), ".gif"), std::string("\x03\x08\x08\x00", 4)},
      {"animated.webp", save(animation(3), ".webp"), std::string("\x02\x0c\x00\x00", 4)},
      {"rgb.tif", save(rgb, ".tif"), std::string("\x00\x10\x10\x02", 4)},
      {"cmyk.tif",
       save(rgb.colourspace(VIPS_INTERPRETATION_CMYK), ".tif", VImage::option()->set("strip", true)),
       std::string("\x01\x00\x0a\x00", 4)},
      {"tiny.avif", save(rgb, ".avif", VImage::option()->set("Q", 30)), std::string("\x02\x08\x00\x00", 4)},
  };
  int failed = 0;
  for (const auto& seed : seeds) {
    const std::string bytes = seed.bytes + seed.choice;
    std::ofstream(dir + "/" + seed.name, std::ios::binary) << bytes;
    try {
      imageflex::Limits limits;
      const auto source = imageflex::probe(bytes, limits);
      imageflex::TransformSpec spec;
      spec.geometry.width = 8;
      imageflex::transform(bytes, source, spec, limits, {},
                           std::chrono::steady_clock::now() + std::chrono::seconds(5));
      std::printf("%-16s %5zu bytes, makes a variant\n", seed.name, bytes.size());
    } catch (const imageflex::Error& error) {
      std::printf("%-16s %5zu bytes, FAILS: %s\n", seed.name, bytes.size(), error.what());
      ++failed;
    }
  }
  return failed == 0 ? 0 : 1;
}
