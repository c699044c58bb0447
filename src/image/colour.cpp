#include "image/colour.h"

namespace imageflex {

using vips::VImage;

VImage to_srgb8(const VImage& input) {
  VImage image = input;
  const bool cmyk = image.interpretation() == VIPS_INTERPRETATION_CMYK;
  if (image.get_typeof(VIPS_META_ICC_NAME) != 0 || cmyk) {
    // Perceptual (sharp's intent too) with black point compensation, which with libvips'
    // v2 sRGB profile matches Little CMS's perceptual conversion: ink black stays black.
    image = image.icc_transform("srgb", VImage::option()
                                            ->set("embedded", true)
                                            ->set("input_profile", cmyk ? "cmyk" : "srgb")
                                            ->set("intent", VIPS_INTENT_PERCEPTUAL)
                                            ->set("black_point_compensation", true));
    // Plain sRGB now: dropping the profile makes a second call a no-op.
    image = image.copy();
    vips_image_remove(image.get_image(), VIPS_META_ICC_NAME);
  }
  const auto interpretation = image.interpretation();
  if (interpretation == VIPS_INTERPRETATION_GREY16 || interpretation == VIPS_INTERPRETATION_B_W) {
    if (image.format() != VIPS_FORMAT_UCHAR) image = image.colourspace(VIPS_INTERPRETATION_B_W);
  } else if (interpretation != VIPS_INTERPRETATION_sRGB || image.format() != VIPS_FORMAT_UCHAR) {
    image = image.colourspace(VIPS_INTERPRETATION_sRGB);
  }
  if (image.format() != VIPS_FORMAT_UCHAR) image = image.cast(VIPS_FORMAT_UCHAR);
  return image;
}

}  // namespace imageflex
