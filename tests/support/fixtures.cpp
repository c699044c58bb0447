#include "fixtures.h"

#include <jpeglib.h>
#include <vips/vips8>

#include <cstdio>
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

// The kCmykPatches side by side, as ink values (0 = no ink, 255 = full ink).
VImage cmyk_patches() {
  std::vector<VImage> patches;
  for (const auto& ink : kCmykPatches) {
    patches.push_back((VImage::black(kPatchSide, kPatchSide, VImage::option()->set("bands", 4)) +
                       std::vector<double>{ink[0] * 2.55, ink[1] * 2.55, ink[2] * 2.55, ink[3] * 2.55})
                          .cast(VIPS_FORMAT_UCHAR));
  }
  return VImage::arrayjoin(patches).copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_CMYK));
}

VImage with_profile(const VImage& image, const std::string& profile_path) {
  const std::string profile = read_file(profile_path);
  VImage tagged = image.copy();
  vips_image_set_blob_copy(tagged.get_image(), VIPS_META_ICC_NAME, profile.data(), profile.size());
  return tagged;
}

// A CMYK JPEG as Photoshop writes it: YCCK-coded, inks stored inverted (255 = no ink),
// an APP14 "Adobe" marker saying so, and the ICC profile. libvips only writes plain CMYK.
std::string adobe_ycck_jpeg(const VImage& cmyk, const std::string& profile_path) {
  const VImage pixels = cmyk.copy_memory();
  const auto* data = static_cast<const unsigned char*>(pixels.data());
  const std::string profile = read_file(profile_path);
  jpeg_compress_struct jpeg{};
  jpeg_error_mgr error{};
  jpeg.err = jpeg_std_error(&error);
  jpeg_create_compress(&jpeg);
  unsigned char* buffer = nullptr;
  unsigned long length = 0;
  jpeg_mem_dest(&jpeg, &buffer, &length);
  jpeg.image_width = static_cast<JDIMENSION>(pixels.width());
  jpeg.image_height = static_cast<JDIMENSION>(pixels.height());
  jpeg.input_components = 4;
  jpeg.in_color_space = JCS_CMYK;
  jpeg_set_defaults(&jpeg);
  jpeg_set_colorspace(&jpeg, JCS_YCCK);  // also turns on the Adobe marker
  jpeg_set_quality(&jpeg, 95, TRUE);
  jpeg_start_compress(&jpeg, TRUE);
  jpeg_write_icc_profile(&jpeg, reinterpret_cast<const JOCTET*>(profile.data()),
                         static_cast<unsigned int>(profile.size()));
  std::vector<unsigned char> row(static_cast<std::size_t>(pixels.width()) * 4);
  while (jpeg.next_scanline < jpeg.image_height) {
    const unsigned char* source = data + static_cast<std::size_t>(jpeg.next_scanline) * row.size();
    for (std::size_t i = 0; i < row.size(); ++i) row[i] = static_cast<unsigned char>(255 - source[i]);
    JSAMPROW rows[] = {row.data()};
    jpeg_write_scanlines(&jpeg, rows, 1);
  }
  jpeg_finish_compress(&jpeg);
  jpeg_destroy_compress(&jpeg);
  std::string bytes(reinterpret_cast<const char*>(buffer), length);
  std::free(buffer);
  return bytes;
}

// A valid lossless JPEG (SOF3, ITU T.81 annex H) of 8x8 grey 128: one Huffman code,
// "0" for a zero difference, so 64 zero bits of scan data. libjpeg cannot decode it.
std::string lossless_jpeg() {
  const unsigned char bytes[] = {0xFF, 0xD8,  // SOI
                                 0xFF, 0xC3, 0x00, 0x0B, 8, 0x00, 0x08, 0x00, 0x08, 1, 1, 0x11,
                                 0,                                               // SOF3: 8-bit, 8x8, 1
                                                                                  // component
                                 0xFF, 0xC4, 0x00, 0x14, 0x00,                    // DHT: DC table 0
                                 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  // one code of length 1
                                 0x00,                                            // for difference category 0
                                 0xFF, 0xDA, 0x00, 0x08, 1, 1, 0x00, 1, 0, 0x00,  // SOS: predictor 1, Pt 0
                                 0, 0, 0, 0, 0, 0, 0, 0,                          // 64 zero differences
                                 0xFF, 0xD9};                                     // EOI
  return {reinterpret_cast<const char*>(bytes), sizeof bytes};
}

// A valid 12-bit JPEG (SOF1, extended sequential) of one 8x8 block: a flat quantisation
// table, one Huffman code each for "no DC difference" and "end of block", so the scan
// is the bits 0 (DC) and 0 (EOB), padded with ones. libjpeg here reads 8 bits only.
std::string twelve_bit_jpeg() {
  std::string bytes("\xFF\xD8\xFF\xDB\x00\x83\x10", 7);  // SOI; DQT of 16-bit entries, table 0
  for (int i = 0; i < 64; ++i) bytes += std::string("\x00\x01", 2);
  const std::string bits(16, '\0');
  bytes += std::string("\xFF\xC1\x00\x0B\x0C\x00\x08\x00\x08\x01\x01\x11\x00", 13);  // SOF1: 12-bit, 8x8
  bytes += std::string("\xFF\xC4\x00\x14\x00\x01", 6) + bits.substr(1) + '\0';       // DHT DC 0: "0" -> 0
  bytes += std::string("\xFF\xC4\x00\x14\x10\x01", 6) + bits.substr(1) + '\0';       // DHT AC 0: "0" -> EOB
  bytes += std::string("\xFF\xDA\x00\x08\x01\x01\x00\x00\x3F\x00", 10);              // SOS: 0-63
  bytes += std::string("\x3F\xFF\xD9", 3);                                           // data; EOI
  return bytes;
}

// The TIFF with its first IFD's Orientation entry (tag 274) renumbered 275, a tag libtiff
// does not know: every open of the file makes libtiff warn, and the picture is intact.
std::string tiff_with_unknown_tag(std::string tiff) {
  auto u16 = [&](std::size_t at) {
    return static_cast<unsigned>(static_cast<unsigned char>(tiff[at])) |
           static_cast<unsigned>(static_cast<unsigned char>(tiff[at + 1])) << 8;
  };
  if (!tiff.starts_with(std::string_view("II*\0", 4)))
    throw std::runtime_error("expected a little-endian TIFF");
  const std::size_t ifd = u16(4) | static_cast<std::size_t>(u16(6)) << 16;
  for (std::size_t entry = ifd + 2; entry < ifd + 2 + std::size_t{12} * u16(ifd); entry += 12) {
    if (u16(entry) == 274) {
      tiff[entry] = static_cast<char>(275 & 0xFF);
      return tiff;
    }
  }
  throw std::runtime_error("no Orientation entry to renumber");
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
  put("warns.tiff", tiff_with_unknown_tag(save(landscape, ".tif")));
  put("png_named.jpg", save(landscape, ".png"));  // a PNG under a .jpg name

  // stripes: 900x300, red | green | blue thirds; a centred square crop is all green.
  put("stripes.jpg",
      save(side_by_side(side_by_side(solid(300, 300, kRed), solid(300, 300, kGreen)), solid(300, 300, kBlue)),
           ".jpg", VImage::option()->set("Q", 90)));

  // bordered: 300x200 white around a 200x100 centre, red left | blue right: trim leaves
  // the centre. checks: 128x128 grey checkerboard (96 and 160) of 4-pixel squares, all
  // high frequency: blur flattens it, sharpen pushes it apart.
  put("bordered.png",
      save(side_by_side(solid(100, 100, kRed), solid(100, 100, kBlue))
               .embed(50, 50, 300, 200,
                      VImage::option()->set("extend", VIPS_EXTEND_BACKGROUND)->set("background", 255.0)),
           ".png"));
  const VImage xy = VImage::xyz(8, 8);
  const VImage square =
      (xy.extract_band(0) / 4).cast(VIPS_FORMAT_INT) + (xy.extract_band(1) / 4).cast(VIPS_FORMAT_INT);
  VImage pattern = ((square % 2) * 64 + 96).cast(VIPS_FORMAT_UCHAR).replicate(16, 16);
  // (bandjoin({pattern, pattern}) would make two bands, grey and alpha, not three.)
  const VImage checks = pattern.bandjoin(pattern).bandjoin(pattern).copy(
      VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
  put("checks.png", save(checks, ".png"));
  // busy_right: 384x128, flat grey with the checkerboard as its right third: smart crop
  // (pos=entropy, pos=attention) keeps the detail, a centred cover crop only grey.
  const double kGrey[3] = {128, 128, 128};
  put("busy_right.png", save(side_by_side(solid(256, 128, kGrey), checks), ".png"));

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

  // CMYK ink patches (kCmykPatches), for comparison with a Little CMS conversion: JPEG and
  // TIFF, with the press profile embedded and without a profile; and as Photoshop writes
  // JPEG (YCCK, inverted inks, Adobe marker).
  const VImage patches = cmyk_patches();
  put("cmyk_profile.jpg", save(with_profile(patches, kCmykProfile), ".jpg", VImage::option()->set("Q", 95)));
  const std::string cmyk_plain_jpg =
      save(patches, ".jpg", VImage::option()->set("Q", 95)->set("strip", true));
  put("cmyk_plain.jpg", cmyk_plain_jpg);
  put("truncated_cmyk.jpg", cmyk_plain_jpg.substr(0, cmyk_plain_jpg.size() * 2 / 3));  // CMYK is loaded apart
  put("cmyk_profile.tif", save(with_profile(patches, kCmykProfile), ".tif"));
  put("cmyk_plain.tif", save(patches, ".tif", VImage::option()->set("strip", true)));
  put("cmyk_adobe.jpg", adobe_ycck_jpeg(patches, kCmykProfile));

  // grey_profile: 100x100 grey 128 with a linear-light grey profile embedded.
  VImage grey = (VImage::black(100, 100) + 128).cast(VIPS_FORMAT_UCHAR);
  put("grey_profile.jpg",
      save(with_profile(grey.copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_B_W)),
                        kLinearGreyProfile),
           ".jpg", VImage::option()->set("Q", 95)));

  // lossless, twelve_bit: valid JPEGs that libjpeg cannot decode (SOF3; SOF1 at 12 bits).
  put("lossless.jpg", lossless_jpeg());
  put("twelve_bit.jpg", twelve_bit_jpeg());

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
