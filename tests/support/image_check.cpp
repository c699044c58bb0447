#include "image_check.h"

#include <vips/vips8>

#include <algorithm>
#include <bit>
#include <cmath>
#include <mutex>

namespace imageflex::test {
namespace {

using vips::VImage;

void ensure_vips() {
  static std::once_flag once;
  std::call_once(once, [] { VIPS_INIT("imageflex-tests"); });
}

// Loads every frame of an animation (only the loaders that have frames take "n").
VImage load_all(const std::string& bytes) {
  ensure_vips();
  VImage first = VImage::new_from_buffer(bytes.data(), bytes.size(), "");
  if (!first.get_typeof("n-pages") || first.get_int("n-pages") <= 1) return first;
  return VImage::new_from_buffer(bytes.data(), bytes.size(), "", VImage::option()->set("n", -1));
}

}  // namespace

Decoded decode(const std::string& bytes) {
  VImage image = load_all(bytes);
  Decoded d;
  d.loader = image.get_typeof("vips-loader") ? image.get_string("vips-loader") : "";
  if (auto suffix = d.loader.find("_buffer"); suffix != std::string::npos) d.loader.erase(suffix);
  d.width = image.width();
  d.height = image.get_typeof("page-height") ? image.get_int("page-height") : image.height();
  d.frames = image.get_typeof("n-pages") && d.height < image.height() ? image.height() / d.height : 1;
  d.bands = image.bands();
  d.alpha = image.has_alpha();
  d.has_exif = image.get_typeof("exif-data") != 0;
  d.has_icc = image.get_typeof("icc-profile-data") != 0;
  d.interpretation = vips_enum_nick(VIPS_TYPE_INTERPRETATION, image.interpretation());
  d.bits = image.format() == VIPS_FORMAT_USHORT ? 16 : 8;
  return d;
}

std::vector<double> mean_colour(const std::string& bytes, int left, int top, int width, int height,
                                int frame) {
  VImage image = load_all(bytes);
  int page_height = image.get_typeof("page-height") ? image.get_int("page-height") : image.height();
  VImage area = image.extract_area(left, frame * page_height + top, width, height);
  if (area.format() != VIPS_FORMAT_UCHAR) area = area.colourspace(VIPS_INTERPRETATION_sRGB);
  std::vector<double> means;
  for (int band = 0; band < area.bands(); ++band) means.push_back(area.extract_band(band).avg());
  return means;
}

std::uint64_t dhash(const std::string& bytes) {
  VImage image = load_all(bytes);
  int page_height = image.get_typeof("page-height") ? image.get_int("page-height") : image.height();
  image = image.extract_area(0, 0, image.width(), page_height);
  if (image.has_alpha()) image = image.flatten(VImage::option()->set("background", std::vector<double>{255}));
  image = image.colourspace(VIPS_INTERPRETATION_B_W).extract_band(0);
  VImage small = image.thumbnail_image(9, VImage::option()->set("height", 8)->set("size", VIPS_SIZE_FORCE))
                     .cast(VIPS_FORMAT_UCHAR);
  std::size_t size = 0;
  auto* pixels = static_cast<unsigned char*>(small.write_to_memory(&size));
  std::uint64_t hash = 0;
  for (int y = 0; y < 8; ++y) {
    for (int x = 0; x < 8; ++x) hash = (hash << 1) | (pixels[y * 9 + x] > pixels[y * 9 + x + 1] ? 1 : 0);
  }
  g_free(pixels);
  return hash;
}

int hamming(std::uint64_t a, std::uint64_t b) {
  return std::popcount(a ^ b);
}

double colour_distance(const std::vector<double>& a, const std::vector<double>& b) {
  double worst = 0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

}  // namespace imageflex::test
