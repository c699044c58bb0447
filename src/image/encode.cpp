#include "image/encode.h"

#include <cstdint>

#include "common/error.h"
#include "image/vips_handles.h"

namespace imageflex {

using vips::VImage;
using vips::VOption;

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
                                                 const Quality& defaults, const OutputOptions& output) {
  const int quality = effective_quality(format, requested_quality, defaults);
  OwnedOptions options(VImage::option()->set("strip", true));  // variants carry no metadata
  switch (format) {
    case Format::kJpeg:
      options->set("Q", quality)->set("optimize_coding", true);
      if (output.progressive) options->set("interlace", true);  // SOF2: a coarse picture paints first
      return {".jpg", std::move(options)};
    case Format::kWebp:
      options->set("Q", quality);
      if (output.lossless) options->set("lossless", true);
      return {".webp", std::move(options)};
    case Format::kAvif:
      options->set("Q", quality)
          ->set("compression", VIPS_FOREIGN_HEIF_COMPRESSION_AV1)
          ->set("effort", defaults.avif_effort);
      // Lossless keeps every chroma sample too (libvips subsamples at lower qualities).
      if (output.lossless) options->set("lossless", true)->set("subsample_mode", VIPS_FOREIGN_SUBSAMPLE_OFF);
      return {".avif", std::move(options)};
    case Format::kPng:
      options->set("compression", defaults.png_compression);
      if (output.progressive) options->set("interlace", true);  // Adam7: a coarse picture paints first
      return {".png", std::move(options)};
    case Format::kGif: return {".gif", std::move(options)};
    default: throw Error(ErrorKind::kBadRequest, "cannot encode " + std::string(format_name(format)));
  }
}

}  // namespace

std::string encode(const VImage& image, Format format, int quality, const Quality& defaults,
                   const OutputOptions& output) {
  auto [suffix, options] = encoder_for(format, quality, defaults, output);
  void* buffer = nullptr;
  std::size_t length = 0;
  image.write_to_buffer(suffix, &buffer, &length, options.release());  // the call owns the options
  const OwnedBuffer owned(buffer);
  std::string bytes(static_cast<const char*>(buffer), length);
  // libvips 8.14's webpsave writes EXIF and ICC chunks even with strip.
  return format == Format::kWebp ? strip_webp_metadata(bytes) : bytes;
}

std::string strip_webp_metadata(std::string_view webp) {
  auto le32 = [](std::string_view at) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(at[0])) |
           static_cast<std::uint32_t>(static_cast<unsigned char>(at[1])) << 8 |
           static_cast<std::uint32_t>(static_cast<unsigned char>(at[2])) << 16 |
           static_cast<std::uint32_t>(static_cast<unsigned char>(at[3])) << 24;
  };
  if (webp.size() < 12 || sniff_format(webp) != Format::kWebp) return std::string(webp);
  std::string out(webp.substr(0, 12));
  std::size_t at = 12;
  while (at + 8 <= webp.size()) {
    const auto tag = webp.substr(at, 4);
    const std::size_t padded = (static_cast<std::size_t>(le32(webp.substr(at + 4, 4))) + 1) & ~std::size_t{1};
    if (at + 8 + padded > webp.size()) return std::string(webp);  // malformed: leave it alone
    if (tag != "EXIF" && tag != "XMP " && tag != "ICCP") {
      std::string chunk(webp.substr(at, 8 + padded));
      if (tag == "VP8X" && chunk.size() > 8) chunk[8] = static_cast<char>(chunk[8] & ~0x2C);  // ICC|EXIF|XMP
      out += chunk;
    }
    at += 8 + padded;
  }
  if (at != webp.size()) return std::string(webp);  // a cut-off chunk header
  const auto riff_size = static_cast<std::uint32_t>(out.size() - 8);
  for (int i = 0; i < 4; ++i) out[4 + i] = static_cast<char>((riff_size >> (8 * i)) & 0xFF);
  return out;
}

}  // namespace imageflex
