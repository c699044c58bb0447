#include "image/vips_steps.h"

#include "common/error.h"
#include "image/vips_handles.h"

namespace imageflex {

using vips::VImage;
using vips::VOption;

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

VImage without_metadata(const VImage& image) {
  VImage copy = image.copy();
  const OwnedStrv fields(vips_image_get_fields(copy.get_image()));
  for (gchar** field = fields.get(); *field; ++field) {
    std::string_view name(*field);
    if (name.starts_with("exif-") || name.starts_with("xmp-") || name.starts_with("iptc-") ||
        name.starts_with("icc-") || name.starts_with("jpeg-thumbnail") || name == "orientation" ||
        name.find("comment") != std::string_view::npos) {
      vips_image_remove(copy.get_image(), *field);
    }
  }
  return copy;
}

namespace {

// The saver (by suffix) and its options for one output format.
std::pair<const char*, OwnedOptions> encoder_for(Format format, int requested_quality,
                                                 const Quality& defaults) {
  const int quality = effective_quality(format, requested_quality, defaults);
  OwnedOptions options(VImage::option()->set("strip", true));  // variants carry no metadata
  switch (format) {
    case Format::kJpeg:
      options->set("Q", quality)->set("optimize_coding", true);
      return {".jpg", std::move(options)};
    case Format::kWebp: options->set("Q", quality); return {".webp", std::move(options)};
    case Format::kAvif:
      options->set("Q", quality)
          ->set("compression", VIPS_FOREIGN_HEIF_COMPRESSION_AV1)
          ->set("effort", defaults.avif_effort);
      return {".avif", std::move(options)};
    case Format::kPng:
      options->set("compression", defaults.png_compression);
      return {".png", std::move(options)};
    case Format::kGif: return {".gif", std::move(options)};
    default: throw Error(ErrorKind::kBadRequest, "cannot encode " + std::string(format_name(format)));
  }
}

}  // namespace

std::string encode(const VImage& image, Format format, int quality, const Quality& defaults) {
  auto [suffix, options] = encoder_for(format, quality, defaults);
  void* buffer = nullptr;
  std::size_t length = 0;
  image.write_to_buffer(suffix, &buffer, &length, options.release());  // the call owns the options
  const OwnedBuffer owned(buffer);
  std::string bytes(static_cast<const char*>(buffer), length);
  // libvips 8.14's webpsave writes EXIF and ICC chunks even with strip.
  return format == Format::kWebp ? strip_webp_metadata(bytes) : bytes;
}

}  // namespace imageflex
