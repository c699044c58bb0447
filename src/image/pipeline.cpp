#include "image/pipeline.h"

#include <vips/vips8>

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "image/colour.h"
#include "image/cost.h"
#include "image/encode.h"
#include "image/vips_handles.h"

namespace imageflex {
namespace {

using vips::VError;
using vips::VImage;

int get_int_or(const VImage& image, const char* field, int fallback) {
  return image.get_typeof(field) != 0 ? image.get_int(field) : fallback;
}

// Runs `step` on each frame of an animation (or on the still image) and reassembles.
VImage each_frame(const VImage& image, int frames, int page_height,
                  const std::function<VImage(const VImage&)>& step) {
  if (frames <= 1) return step(image);
  std::vector<VImage> done;
  done.reserve(frames);
  for (int i = 0; i < frames; ++i)
    done.push_back(step(image.extract_area(0, i * page_height, image.width(), page_height)));
  VImage joined = VImage::arrayjoin(done, VImage::option()->set("across", 1)).copy();
  joined.set("page-height", done.front().height());
  return joined;
}

std::vector<double> white_background(int bands, bool transparent) {
  std::vector<double> background(bands, 255.0);
  if (transparent) background.back() = 0.0;
  return background;
}

// Stops a computation once the deadline passes: libvips emits "eval" as it renders,
// and a killed image makes the running save fail promptly.
struct Watchdog {
  Deadline deadline;
  bool fired = false;
  static void on_eval(VipsImage* image, VipsProgress* /*progress*/, Watchdog* self) {
    if (std::chrono::steady_clock::now() > self->deadline) {
      self->fired = true;
      vips_image_set_kill(image, TRUE);
    }
  }
};

// What a JPEG's frame header (SOFn) says about its coding.
struct JpegCoding {
  std::optional<std::string> unsupported;  // why libjpeg cannot decode it
  bool progressive = false;                // decoded whole-image: its coefficients are all buffered
};

// libjpeg decodes baseline, extended and progressive JPEG, Huffman or arithmetic coded
// (SOF0-2, SOF9-10), at 8 bits per sample. The other coding processes are valid JPEG it
// cannot read, so they are unsupported (415), not corrupt (422). No reason when the
// frame header is decodable or not found (then libvips judges).
JpegCoding jpeg_coding(std::string_view bytes) {
  auto byte = [&](std::size_t at) { return static_cast<unsigned char>(bytes[at]); };
  std::size_t at = 2;  // after SOI
  while (at + 4 < bytes.size() && byte(at) == 0xFF) {
    const unsigned marker = byte(at + 1);
    if (marker == 0xFF) {  // a fill byte before the marker
      ++at;
      continue;
    }
    switch (marker) {
      case 0xC3:
      case 0xCB: return {"lossless JPEG is not supported"};  // SOF3, SOF11
      case 0xC5:
      case 0xC6:
      case 0xC7:
      case 0xCD:
      case 0xCE:
      case 0xCF: return {"hierarchical JPEG is not supported"};  // SOF5-7, SOF13-15
      case 0xC0:
      case 0xC1:
      case 0xC2:
      case 0xC9:
      case 0xCA:
        if (byte(at + 4) != 8) return {std::to_string(byte(at + 4)) + "-bit JPEG is not supported"};
        return {std::nullopt, marker == 0xC2 || marker == 0xCA};
      case 0xD9:
      case 0xDA: return {};  // the image ends or its data starts: no frame header
      default: break;
    }
    at += 2 + (static_cast<std::size_t>(byte(at + 2)) << 8 | byte(at + 3));  // skip the segment
  }
  return {};
}

// Decodes with shrink-on-load and applies the EXIF orientation: libvips' thumbnail.
// Truncated data fails the request instead of serving a half-grey picture (fail_on goes
// through the loader's option string; the property is not passed on).
VImage thumbnail(std::string_view bytes, const Plan& plan, int frames) {
  std::string loader_options = "fail_on=truncated";
  if (frames > 1) loader_options += ",n=" + std::to_string(frames);
  auto* load = VImage::option()
                   ->set("height", plan.resize.height)
                   ->set("size", VIPS_SIZE_FORCE)
                   ->set("option_string", loader_options.c_str());
  // The blob borrows the bytes (no copy); they outlive the image.
  const BorrowedBlob blob(bytes);
  return VImage::thumbnail_buffer(blob.get(), plan.resize.width, load);
}

// The JPEG shrink-on-load factor, as sharp picks it (fastShrinkOnLoad, its default): the
// largest power of two the shrink reaches, one step less when the shrink is under that power
// plus one (sharp's guard against libjpeg's rounding of scaled sizes). libvips' thumbnail leaves a factor of
// two for the resize instead: for 2560x1600 into 512x512 it decodes 1280x800, four times the
// pixels of sharp's 640x400, and that decode and resize were most of a JPEG miss's CPU.
// Lanczos 3 from four times the output's size keeps the SSIM of sharp's outputs (BENCHMARKS.md).
int jpeg_shrink(Size source, Size resize) {
  const double factor = std::min(static_cast<double>(source.width) / resize.width,
                                 static_cast<double>(source.height) / resize.height);
  for (int shrink : {8, 4, 2}) {
    if (factor >= shrink) return static_cast<int>(factor) == shrink ? shrink / 2 : shrink;
  }
  return 1;
}

// Decodes at about the planned size, upright, and converts to 8-bit sRGB (to_srgb8).
VImage decode_resized(std::string_view bytes, const SourceInfo& source, const Plan& plan, int frames) {
  if (source.format != Format::kJpeg && !source.cmyk) return to_srgb8(thumbnail(bytes, plan, frames));
  // JPEG is loaded shrunk by our factor (jpeg_shrink; thumbnail takes no factor), then resized.
  // CMYK is converted through its own profile first: libvips' thumbnail would use its
  // built-in CMYK profile, ignoring the embedded one.
  auto* load =
      VImage::option()->set("access", VIPS_ACCESS_SEQUENTIAL)->set("fail_on", VIPS_FAIL_ON_TRUNCATED);
  if (source.format == Format::kJpeg) load->set("shrink", jpeg_shrink(source.size, plan.resize));
  VImage image = VImage::new_from_buffer(bytes.data(), bytes.size(), "", load);
  if (source.cmyk) image = to_srgb8(image);
  // Resize (and turn upright by the EXIF orientation) as thumbnail does; sRGB after it, on
  // the small image (a no-op for CMYK, converted above).
  return to_srgb8(image.thumbnail_image(
      plan.resize.width, VImage::option()->set("height", plan.resize.height)->set("size", VIPS_SIZE_FORCE)));
}

}  // namespace

SourceInfo probe(std::string_view bytes, const Limits& limits) {
  auto info = probe_prefix(bytes, bytes.size(), limits);
  // The whole file: libvips' answer is final, so a failure is a corrupt image.
  if (!info)
    throw Error(ErrorKind::kUnprocessable,
                "corrupt or unreadable " + std::string(format_name(*sniff_format(bytes))) + " image");
  return *info;
}

std::optional<SourceInfo> probe_prefix(std::string_view bytes, std::uint64_t whole_size,
                                       const Limits& limits) {
  const bool whole = bytes.size() >= whole_size;
  if (whole_size > limits.max_source_bytes) {
    throw Error(ErrorKind::kTooLarge,
                "image is larger than " + std::to_string(limits.max_source_bytes >> 20) + " MiB");
  }
  auto format = sniff_format(bytes);
  if (!format) throw Error(ErrorKind::kUnsupportedMedia, "not an image in a supported format");
  // Only JPEG and PNG keep everything the probe reads at the start; a WebP's or GIF's
  // frame count, a HEIF's boxes and a TIFF's directory may need the whole file.
  if (!whole && *format != Format::kJpeg && *format != Format::kPng) return std::nullopt;
  SourceInfo info;
  if (*format == Format::kJpeg) {
    JpegCoding coding = jpeg_coding(bytes);
    if (coding.unsupported) throw Error(ErrorKind::kUnsupportedMedia, *coding.unsupported);
    info.progressive = coding.progressive;
  }
  info.format = *format;
  try {
    // Header only: libvips decodes no pixels until something asks for them.
    VImage header = VImage::new_from_buffer(bytes.data(), bytes.size(), "",
                                            VImage::option()->set("access", VIPS_ACCESS_SEQUENTIAL));
    int orientation = get_int_or(header, "orientation", 1);
    info.size = {header.width(), get_int_or(header, "page-height", header.height())};
    if (orientation >= 5 && orientation <= 8) std::swap(info.size.width, info.size.height);
    info.alpha = header.has_alpha();
    info.cmyk = header.interpretation() == VIPS_INTERPRETATION_CMYK;
    info.bands = header.bands();
    info.interlaced = get_int_or(header, "interlaced", 0) != 0;
    if (*format == Format::kGif || *format == Format::kWebp) info.frames = get_int_or(header, "n-pages", 1);
  } catch (const VError&) {
    // A prefix may simply stop inside the header (long EXIF, ICC or text chunks): not judged here.
    return std::nullopt;
  }
  if (info.frames > limits.max_frames) {
    throw Error(ErrorKind::kTooLarge, "animation has " + std::to_string(info.frames) + " frames, limit " +
                                          std::to_string(limits.max_frames));
  }
  auto pixels = static_cast<std::uint64_t>(info.size.width) * info.size.height * info.frames;
  if (pixels > limits.max_source_pixels) {
    throw Error(ErrorKind::kTooLarge, "image has " + std::to_string(pixels) + " pixels, limit " +
                                          std::to_string(limits.max_source_pixels));
  }
  return info;
}

Encoded transform(std::string_view bytes, const SourceInfo& source, const TransformSpec& spec,
                  const Limits& limits, const Quality& quality, Deadline deadline) {
  const Plan plan = plan_geometry(source.size, spec.geometry);
  if (plan.canvas.width > limits.max_output_dimension || plan.canvas.height > limits.max_output_dimension) {
    throw Error(
        ErrorKind::kBadRequest,
        "result would be larger than " + std::to_string(limits.max_output_dimension) + " pixels on a side");
  }
  // A result too large to be worth making is refused before it is made (413).
  check_output_pixels(source, plan, spec.output, limits);
  const int frames = supports_animation(spec.output) ? source.frames : 1;
  Watchdog watchdog{deadline};
  try {
    // 1 and 2. Decode at about the planned size, upright, as 8-bit sRGB.
    VImage image = decode_resized(bytes, source, plan, frames);

    const int page_height = frames > 1 ? image.height() / frames : image.height();

    // 3. Cover: cut the overflow, centred.
    if (plan.crop != plan.resize) {
      image = each_frame(image, frames, page_height, [&](const VImage& frame) {
        return frame.extract_area((frame.width() - plan.crop.width) / 2,
                                  (frame.height() - plan.crop.height) / 2, plan.crop.width, plan.crop.height);
      });
    }

    // 4. Contain: letterbox onto the canvas, transparent where the picture has alpha.
    if (plan.canvas != plan.crop) {
      image =
          each_frame(image, frames, frames > 1 ? plan.crop.height : image.height(), [&](const VImage& frame) {
            return frame.embed((plan.canvas.width - frame.width()) / 2,
                               (plan.canvas.height - frame.height()) / 2, plan.canvas.width,
                               plan.canvas.height,
                               VImage::option()
                                   ->set("extend", VIPS_EXTEND_BACKGROUND)
                                   ->set("background", white_background(frame.bands(), frame.has_alpha())));
          });
    }

    // 5. Formats without alpha get the picture flattened onto white, not onto black.
    if (image.has_alpha() && !supports_alpha(spec.output)) {
      image = image.flatten(VImage::option()->set("background", white_background(image.bands() - 1, false)));
    }

    // 6. Variants carry no metadata: smaller, and no camera or location data leaks.
    image = without_metadata(image);

    // 7. Encode under the deadline's watchdog.
    vips_image_set_progress(image.get_image(), TRUE);
    Encoded encoded;
    {
      const SignalConnection watching(image.get_image(), "eval", G_CALLBACK(Watchdog::on_eval), &watchdog);
      encoded.bytes = encode(image, spec.output, spec.quality, quality);
    }
    // Bytes are known only now: an encoded result over the bound is not served or stored.
    if (encoded.bytes.size() > limits.max_output_bytes) {
      throw Error(ErrorKind::kTooLarge, "result would be " + std::to_string(encoded.bytes.size() >> 20) +
                                            " MiB, limit " + std::to_string(limits.max_output_bytes >> 20) +
                                            " MiB");
    }
    encoded.format = spec.output;
    encoded.frames = frames;
    encoded.size = {image.width(), frames > 1 ? image.height() / frames : image.height()};
    return encoded;
  } catch (const VError& error) {
    if (watchdog.fired) throw Error(ErrorKind::kTimeout, "image took longer than the deadline");
    throw Error(ErrorKind::kUnprocessable,
                "corrupt or truncated " + std::string(format_name(source.format)) + " image");
  }
}

}  // namespace imageflex
