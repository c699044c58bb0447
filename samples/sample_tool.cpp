// sample_tool: the two steps samples/real_photos.sh needs that `imageflex convert` does not do,
// with the same libvips, and a look at an image for its test.
//
//   sample_tool orient IN.jpg OUT.jpg   OUT holds IN's pixels turned a quarter anticlockwise
//                                       with EXIF Orientation 6 ("turn clockwise to view"):
//                                       a viewer that applies EXIF shows IN upright
//   sample_tool info FILE               "WIDTH HEIGHT BANDS ORIENTATION TRANSPARENT_PERCENT"
#include <vips/vips8>

#include <cstdio>
#include <iostream>
#include <string>

using vips::VImage;

namespace {

int orient(const std::string& in, const std::string& out) {
  VImage upright = VImage::new_from_file(in.c_str(), VImage::option()->set("autorotate", true));
  // A camera held on its side stores the scene turned; the tag says how to turn it back.
  VImage stored = upright.rot(VIPS_ANGLE_D270).copy();
  stored.set("orientation", 6);
  stored.jpegsave(out.c_str(), VImage::option()->set("Q", 88));
  return 0;
}

int info(const std::string& file) {
  VImage image = VImage::new_from_file(file.c_str());
  const int orientation = image.get_typeof("orientation") ? image.get_int("orientation") : 1;
  double transparent = 0;
  if (image.has_alpha()) {
    // The share of pixels whose alpha is below half: a cut-out has many, a flat image none.
    VImage alpha = image.extract_band(image.bands() - 1);
    transparent = (alpha < 128).avg() / 255 * 100;
  }
  std::printf("%d %d %d %d %.1f\n", image.width(), image.height(), image.bands(), orientation, transparent);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (VIPS_INIT(argv[0])) return 1;
  const std::string command = argc > 1 ? argv[1] : "";
  try {
    if (command == "orient" && argc == 4) return orient(argv[2], argv[3]);
    if (command == "info" && argc == 3) return info(argv[2]);
  } catch (const vips::VError& error) {
    std::cerr << "sample_tool: " << error.what() << "\n";
    return 1;
  }
  std::cerr << "usage: sample_tool orient IN.jpg OUT.jpg | sample_tool info FILE\n";
  return 2;
}
