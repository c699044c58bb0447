#include "fixtures.h"

#include <vips/vips8>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace imageflex::test {
namespace {

using vips::VImage;

VImage solid(int width, int height, const double (&rgb)[3]) {
  return (VImage::black(width, height, VImage::option()->set("bands", 3)) +
          std::vector<double>{rgb[0], rgb[1], rgb[2]})
      .cast(VIPS_FORMAT_UCHAR)
      .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
}

VImage side_by_side(const VImage& left, const VImage& right) {
  return left.join(right, VIPS_DIRECTION_HORIZONTAL);
}

std::string save(const VImage& image, const char* suffix, vips::VOption* options = nullptr) {
  void* buffer = nullptr;
  size_t length = 0;
  image.write_to_buffer(suffix, &buffer, &length, options);
  std::string bytes(static_cast<char*>(buffer), length);
  g_free(buffer);
  return bytes;
}

// A PNG whose header claims 60000 x 60000 pixels, with almost no data behind it:
// a decompression bomb that only a header check stops cheaply.
std::string bomb_png_header() {
  auto crc32 = [](const std::string& data) {
    std::uint32_t crc = 0xFFFFFFFFu;
    for (unsigned char c : data) {
      crc ^= c;
      for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return crc ^ 0xFFFFFFFFu;
  };
  auto be32 = [](std::uint32_t v) {
    return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                       static_cast<char>(v)};
  };
  auto chunk = [&](const std::string& type, const std::string& data) {
    return be32(static_cast<std::uint32_t>(data.size())) + type + data + be32(crc32(type + data));
  };
  std::string ihdr = be32(60000) + be32(60000) + std::string("\x08\x02\x00\x00\x00", 5);
  std::string idat("\x78\x9C\x03\x00\x00\x00\x00\x01", 8);
  return std::string("\x89PNG\r\n\x1A\n", 8) + chunk("IHDR", ihdr) + chunk("IDAT", idat) + chunk("IEND", "");
}

}  // namespace

std::string make_temp_dir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base ? base : "/tmp") + "/imageflex-test-XXXXXX";
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  return pattern;
}

void remove_tree(const std::string& dir) {
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void write_file(const std::string& path, const std::string& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

void write_fixtures(const std::string& dir) {
  static std::once_flag once;
  std::call_once(once, [] { VIPS_INIT("imageflex-fixtures"); });
  auto put = [&](const std::string& name, const std::string& bytes) { write_file(dir + "/" + name, bytes); };

  // landscape: 640x480 in four quadrants, red | green over blue | yellow.
  VImage top = side_by_side(solid(320, 240, kRed), solid(320, 240, kGreen));
  VImage bottom = side_by_side(solid(320, 240, kBlue), solid(320, 240, kYellow));
  VImage landscape = top.join(bottom, VIPS_DIRECTION_VERTICAL);
  const std::string landscape_jpg = save(landscape, ".jpg", VImage::option()->set("Q", 90));
  put("landscape.jpg", landscape_jpg);
  put("landscape.png", save(landscape, ".png"));
  put("space name é.jpg", landscape_jpg);
  put("photo.tiff", save(landscape, ".tif"));
  put("png_named.jpg", save(landscape, ".png"));  // a PNG under a .jpg name

  // stripes: 900x300, red | green | blue thirds; a centred square crop is all green.
  put("stripes.jpg",
      save(side_by_side(side_by_side(solid(300, 300, kRed), solid(300, 300, kGreen)), solid(300, 300, kBlue)),
           ".jpg", VImage::option()->set("Q", 90)));

  // portrait_exif6: upright it is 300x200, red left | blue right; stored rotated a quarter
  // turn anticlockwise with EXIF orientation 6 ("rotate 90 clockwise to view").
  VImage upright = side_by_side(solid(150, 200, kRed), solid(150, 200, kBlue));
  VImage stored = upright.rot(VIPS_ANGLE_D270).copy();
  stored.set("orientation", 6);
  put("portrait_exif6.jpg", save(stored, ".jpg", VImage::option()->set("Q", 90)));

  // alpha: 200x100, opaque red left half, fully transparent right half.
  VImage opaque = solid(100, 100, kRed).bandjoin(255);
  VImage clear = solid(100, 100, kBlue).bandjoin(0);
  VImage alpha =
      side_by_side(opaque, clear).copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
  put("alpha.png", save(alpha, ".png"));
  put("alpha.tiff", save(alpha, ".tif"));

  // animated: 3 frames of 60x40, red, green, blue.
  VImage strip = solid(60, 40, kRed)
                     .join(solid(60, 40, kGreen), VIPS_DIRECTION_VERTICAL)
                     .join(solid(60, 40, kBlue), VIPS_DIRECTION_VERTICAL)
                     .copy();
  strip.set("page-height", 40);
  strip.set("delay", std::vector<int>{100, 100, 100});
  strip.set("loop", 0);
  put("animated.gif", save(strip, ".gif"));
  put("animated.webp", save(strip, ".webp", VImage::option()->set("lossless", true)));

  // cmyk: 100x100 brick red converted to CMYK, with no profile embedded (the hard case).
  VImage cmyk = solid(100, 100, kBrick).colourspace(VIPS_INTERPRETATION_CMYK);
  put("cmyk.jpg", save(cmyk, ".jpg", VImage::option()->set("Q", 95)->set("strip", true)));

  // p3: 100x100 red stored in Display P3 with its profile embedded: the pixel values
  // differ from sRGB's, so only a profile-aware conversion gets the colour back.
  put("p3.jpg", save(solid(100, 100, kRed).icc_export(VImage::option()->set("output_profile", "p3")), ".jpg",
                     VImage::option()->set("Q", 95)));

  // deep16: 100x100 red at 16 bits per channel.
  VImage deep = (solid(100, 100, kRed).cast(VIPS_FORMAT_USHORT) * 257)
                    .cast(VIPS_FORMAT_USHORT)
                    .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_RGB16));
  put("deep16.png", save(deep, ".png", VImage::option()->set("bitdepth", 16)));

  // Hostile and broken inputs.
  put("truncated.jpg", landscape_jpg.substr(0, landscape_jpg.size() / 2));
  put("corrupt.png", std::string("\x89PNG\r\n\x1A\n", 8) + std::string(200, '\x42'));
  put("notimage.jpg", "this is a text file, not an image\n");
  put("vector.svg",
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"100\" height=\"100\"><rect width=\"100\" "
      "height=\"100\" fill=\"red\"/></svg>\n");
  put("bomb.png", bomb_png_header());
  // A real decompression bomb: 5000x5000 black pixels in a few kilobytes.
  put("bomb_real.png", save(VImage::black(5000, 5000), ".png", VImage::option()->set("compression", 9)));
}

}  // namespace imageflex::test

namespace imageflex::test {

std::string make_heavy_jpeg(int side) {
  static std::once_flag once;
  std::call_once(once, [] { VIPS_INIT("imageflex-fixtures"); });
  vips::VImage noise = vips::VImage::gaussnoise(side, side, vips::VImage::option()->set("sigma", 60.0));
  noise = noise.bandjoin({noise.rot90(), noise.rot180()}).cast(VIPS_FORMAT_UCHAR);
  noise = noise.copy(vips::VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
  return save(noise, ".jpg", vips::VImage::option()->set("Q", 85));
}

}  // namespace imageflex::test
