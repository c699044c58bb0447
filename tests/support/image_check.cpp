#include "image_check.h"

#include <vips/vips8>

#include <algorithm>
#include <bit>
#include <cmath>
#include <mutex>
#include <stdexcept>

#include "fixtures.h"
#include "server_process.h"

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

std::string lcms_to_srgb(const std::string& bytes, const std::string& fallback_profile) {
  const bool tiff =
      bytes.starts_with(std::string_view("II*\0", 4)) || bytes.starts_with(std::string_view("MM\0*", 4));
  const std::string dir = make_temp_dir();
  const std::string in = dir + (tiff ? "/in.tif" : "/in.jpg");
  const std::string out = dir + (tiff ? "/out.tif" : "/out.jpg");
  write_file(in, bytes);
  // -t0: perceptual; -q100: the least JPEG loss jpgicc can give.
  std::vector<std::string> command = {tiff ? "/usr/bin/tificc" : "/usr/bin/jpgicc", "-t0"};
  if (!tiff) command.emplace_back("-q100");
  if (!fallback_profile.empty()) {
    write_file(dir + "/fallback.icc", fallback_profile);
    command.insert(command.end(), {"-i", dir + "/fallback.icc"});
  }
  command.insert(command.end(), {in, out});
  const CommandResult result = run_command(command);
  std::string converted;
  if (result.status == 0) converted = read_file(out);
  remove_tree(dir);
  if (result.status != 0) {
    throw std::runtime_error(command.front() + " failed (install liblcms2-utils): " + result.output);
  }
  return converted;
}

std::string builtin_cmyk_profile() {
  ensure_vips();
  VipsBlob* blob = nullptr;
  if (vips_profile_load("cmyk", &blob, nullptr) != 0) throw std::runtime_error("no built-in cmyk profile");
  std::size_t length = 0;
  const void* data = vips_blob_get(blob, &length);
  std::string profile(static_cast<const char*>(data), length);
  vips_area_unref(VIPS_AREA(blob));
  return profile;
}

double colour_distance(const std::vector<double>& a, const std::vector<double>& b) {
  double worst = 0;
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

double edge_energy(const std::string& bytes) {
  VImage grey = load_all(bytes).colourspace(VIPS_INTERPRETATION_B_W).extract_band(0).cast(VIPS_FORMAT_FLOAT);
  const int width = grey.width();
  const int height = grey.get_typeof("page-height") ? grey.get_int("page-height") : grey.height();
  VImage left = grey.extract_area(0, 0, width - 1, height);
  VImage right = grey.extract_area(1, 0, width - 1, height);
  return (left - right).abs().avg();
}

double max_pixel_difference(const std::string& a, const std::string& b) {
  VImage first = load_all(a).colourspace(VIPS_INTERPRETATION_sRGB);
  VImage second = load_all(b).colourspace(VIPS_INTERPRETATION_sRGB);
  if (first.width() != second.width() || first.height() != second.height() || first.bands() != second.bands())
    return -1;
  return (first.cast(VIPS_FORMAT_FLOAT) - second.cast(VIPS_FORMAT_FLOAT)).abs().max();
}

}  // namespace imageflex::test
