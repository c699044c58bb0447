#include "image/pipeline.h"

#include <vips/vips8>

#include <algorithm>
#include <array>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/hash.h"
#include "common/log.h"
#include "image/colour.h"
#include "image/cost.h"
#include "image/encode.h"
#include "image/reduce.h"
#include "image/thumbhash.h"
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
VImage thumbnail(std::string_view bytes, Size target, int frames) {
  std::string loader_options = "fail_on=truncated";
  if (frames > 1) loader_options += ",n=" + std::to_string(frames);
  auto* load = VImage::option()
                   ->set("height", target.height)
                   ->set("size", VIPS_SIZE_FORCE)
                   ->set("option_string", loader_options.c_str());
  // The blob borrows the bytes (no copy); they outlive the image.
  const BorrowedBlob blob(bytes);
  return VImage::thumbnail_buffer(blob.get(), target.width, load);
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

// Resizes to `target`, the upright size, and turns the picture upright by its EXIF
// orientation, as libvips' thumbnail does. 8-bit pictures without alpha shrunk at most 3x
// (nearly every miss: JPEG is decoded shrunk first) go through our Lanczos 3 (reduce.h:
// sharper and faster than libvips 8.14's); the rest, enlargements and alpha included,
// through libvips' thumbnail.
VImage resize_to(const VImage& image, Size target) {
  const Size size =
      vips_image_get_orientation_swap(image.get_image()) ? Size{target.height, target.width} : target;
  if (!reducible(image, size)) {
    return image.thumbnail_image(
        target.width, VImage::option()->set("height", target.height)->set("size", VIPS_SIZE_FORCE));
  }
  VImage resized = size == Size{image.width(), image.height()} ? image : reduce_lanczos3(image, size);
  if (vips_image_get_orientation(image.get_image()) <= 1) return resized;
  // Turning reads out of order, which a sequential decode cannot serve: from memory, as
  // libvips' thumbnail does (the picture is at its output size by now).
  return resized.copy_memory().autorot();
}

// Decodes at `target` (the planned size before rotate=), upright, as 8-bit sRGB (to_srgb8).
VImage decode_resized(std::string_view bytes, const SourceInfo& source, Size target, int frames) {
  if (source.format != Format::kJpeg && !source.cmyk) return to_srgb8(thumbnail(bytes, target, frames));
  // JPEG is loaded shrunk by our factor (jpeg_shrink; thumbnail takes no factor), then resized.
  // CMYK is converted through its own profile first: libvips' thumbnail would use its
  // built-in CMYK profile, ignoring the embedded one.
  auto* load =
      VImage::option()->set("access", VIPS_ACCESS_SEQUENTIAL)->set("fail_on", VIPS_FAIL_ON_TRUNCATED);
  if (source.format == Format::kJpeg) load->set("shrink", jpeg_shrink(source.size, target));
  VImage image = VImage::new_from_buffer(bytes.data(), bytes.size(), "", load);
  if (source.cmyk) image = to_srgb8(image);
  // Resize (and turn upright by the EXIF orientation) as thumbnail does; sRGB after it, on
  // the small image (a no-op for CMYK, converted above).
  return to_srgb8(resize_to(image, target));
}

// crop=: the region is in the upright original's pixels, so the original is decoded at
// full size (no shrink-on-load), turned upright, cut, and then resized to `target`.
VImage decode_region(std::string_view bytes, const Region& region, Size target, int frames) {
  auto* load = VImage::option()->set("fail_on", VIPS_FAIL_ON_TRUNCATED);
  if (frames > 1) load->set("n", frames);
  VImage image = to_srgb8(VImage::new_from_buffer(bytes.data(), bytes.size(), "", load)).autorot();
  return each_frame(
      image, frames, frames > 1 ? image.height() / frames : image.height(), [&](const VImage& frame) {
        return resize_to(frame.extract_area(region.x, region.y, region.width, region.height), target);
      });
}

VipsAngle vips_angle(int degrees) {
  switch (degrees) {
    case 90: return VIPS_ANGLE_D90;
    case 180: return VIPS_ANGLE_D180;
    case 270: return VIPS_ANGLE_D270;
    default: return VIPS_ANGLE_D0;
  }
}

// A frame ready to show `colour` around or under it: grey becomes sRGB when the colour
// is not grey, and a translucent colour on an output that keeps alpha adds an alpha band.
VImage ready_for(const VImage& frame, const Rgba& colour, bool alpha_output) {
  VImage ready = frame;
  const bool grey = colour.r == colour.g && colour.g == colour.b;
  if (ready.bands() - (ready.has_alpha() ? 1 : 0) < 3 && !grey) {
    ready = ready.colourspace(VIPS_INTERPRETATION_sRGB);
  }
  if (alpha_output && colour.a < 255 && !ready.has_alpha()) ready = ready.bandjoin_const({255});
  return ready;
}

// `colour` as `frame`'s bands want it (grey frames take the red channel, which equals the others).
std::vector<double> colour_for(const VImage& frame, const Rgba& colour) {
  const int colour_bands = frame.bands() - (frame.has_alpha() ? 1 : 0);
  std::vector<double> out =
      colour_bands >= 3 ? std::vector<double>{static_cast<double>(colour.r), static_cast<double>(colour.g),
                                              static_cast<double>(colour.b)}
                        : std::vector<double>{static_cast<double>(colour.r)};
  if (frame.has_alpha()) out.push_back(colour.a);
  return out;
}

// The narrowest box around what is not the uniform border (the colour of the top-left
// pixel, within `threshold`); nullopt when the whole picture is that colour.
std::optional<std::array<int, 4>> find_content(const VImage& image, int threshold) {
  const VImage opaque = image.has_alpha()
                            ? image.flatten(VImage::option()->set("background", white_background(3, false)))
                            : image;
  int top = 0;
  int width = 0;
  int height = 0;
  const int left = opaque.find_trim(&top, &width, &height,
                                    VImage::option()
                                        ->set("threshold", static_cast<double>(threshold))
                                        ->set("background", opaque.getpoint(0, 0)));
  if (width <= 0 || height <= 0) return std::nullopt;
  return std::array<int, 4>{left, top, width, height};
}

// A Gaussian blur whose cost is bounded whatever the sigma (plan_blur): wide blurs run on
// a shrunk copy and are enlarged back, which a blur that wide cannot tell apart.
VImage blur(const VImage& in, double sigma) {
  const BlurPlan planned = plan_blur(sigma, {in.width(), in.height()});
  auto exactly = [](int height) {
    return VImage::option()->set("height", height)->set("size", VIPS_SIZE_FORCE);
  };
  VImage image = in;
  if (planned.shrink > 1) {
    image = image.thumbnail_image((in.width() + planned.shrink - 1) / planned.shrink,
                                  exactly((in.height() + planned.shrink - 1) / planned.shrink));
  }
  // Premultiplied, so transparent pixels' colours do not bleed into the edges.
  const bool alpha = image.has_alpha();
  if (alpha) image = image.premultiply();
  image = image.gaussblur(planned.sigma);
  if (alpha) image = image.unpremultiply();
  image = image.cast(in.format());
  if (planned.shrink > 1) image = image.thumbnail_image(in.width(), exactly(in.height()));
  return image;
}

// Unsharp masking of lightness only (libvips' sharpen), so colours do not fringe; alpha
// is kept aside, as sharpen reads three bands.
VImage sharpen(const VImage& in, double sigma) {
  const bool alpha = in.has_alpha();
  VImage colour = alpha ? in.extract_band(0, VImage::option()->set("n", in.bands() - 1)) : in;
  colour = colour.sharpen(VImage::option()->set("sigma", sigma))
               .colourspace(VIPS_INTERPRETATION_sRGB)
               .cast(in.format());
  return alpha ? colour.bandjoin(in.extract_band(in.bands() - 1)) : colour;
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

namespace {

void check_plan(const SourceInfo& source, const Plan& plan, Format output, const Limits& limits) {
  if (plan.canvas.width > limits.max_output_dimension || plan.canvas.height > limits.max_output_dimension) {
    throw Error(
        ErrorKind::kBadRequest,
        "result would be larger than " + std::to_string(limits.max_output_dimension) + " pixels on a side");
  }
  // A result too large to be worth making is refused before it is made (413).
  check_output_pixels(source, plan, output, limits);
}

}  // namespace

Encoded transform(std::string_view bytes, const SourceInfo& source, const TransformSpec& spec,
                  const Limits& limits, const Quality& quality, Deadline deadline) {
  if (!region_inside(source.size, spec.geometry)) {
    throw Error(ErrorKind::kBadRequest, "crop must lie inside the image");
  }
  Plan plan = plan_geometry(source.size, spec.geometry);
  check_plan(source, plan, spec.output, limits);
  const int frames = supports_animation(spec.output) ? source.frames : 1;
  Watchdog watchdog{deadline};
  try {
    // 1 and 2. Decode at the planned size before rotation, upright, as 8-bit sRGB (a
    // crop= region first cuts the full-size original, since it is in the original's
    // pixels; at full size when trimming: the content's size, which the plan needs, is
    // not known yet).
    const bool trimming = spec.effects.trim > 0 && frames == 1;
    const Size region_size{plan.region.width, plan.region.height};
    const Size decoded = trimming ? region_size : unrotated(plan.resize, plan.rotate);
    const bool whole = plan.region == Region{0, 0, source.size.width, source.size.height};
    VImage image = whole ? decode_resized(bytes, source, decoded, frames)
                         : decode_region(bytes, plan.region, decoded, frames);
    // Each later step works frame by frame on an animation.
    auto per_frame = [&](const std::function<VImage(const VImage&)>& step) {
      image = each_frame(image, frames, frames > 1 ? image.height() / frames : image.height(), step);
    };

    // 2b. Trim (stills only): cut the uniform border, then plan the geometry from what is
    // left (the region already cut), so w and h bound the content, not the border. In
    // memory first: finding the border reads the image once, cutting it again.
    if (trimming) {
      image = image.copy_memory();
      if (auto box = find_content(image, spec.effects.trim)) {
        image = image.extract_area((*box)[0], (*box)[1], (*box)[2], (*box)[3]);
      }
      GeometryRequest content = spec.geometry;
      content.region.reset();
      plan = plan_geometry({image.width(), image.height()}, content);
      check_plan(source, plan, spec.output, limits);
      const Size resize = unrotated(plan.resize, plan.rotate);
      if (resize != Size{image.width(), image.height()}) image = resize_to(image, resize);
    }

    // 3. rotate= after EXIF's orientation (applied by the decode), on the resized picture: cheaper.
    if (plan.rotate != 0) per_frame([&](const VImage& frame) { return frame.rot(vips_angle(plan.rotate)); });

    // 4. flip= and flop= mirror the rotated picture, as the viewer sees it.
    if (spec.geometry.flip) per_frame([](const VImage& frame) { return frame.flipver(); });
    if (spec.geometry.flop) per_frame([](const VImage& frame) { return frame.fliphor(); });

    // 5. Cover: cut the overflow around the focal point, or where libvips' smart crop finds interest.
    if (plan.crop != plan.resize) {
      const Focus focus = spec.geometry.focus;
      per_frame([&](const VImage& frame) {
        if (focus == Focus::kPoint) {
          return frame.extract_area(plan.crop_origin.x, plan.crop_origin.y, plan.crop.width,
                                    plan.crop.height);
        }
        // Smart crop reads the picture more than once, which a sequential decode cannot
        // serve ("out of order read"): it gets the resized frame from memory.
        return frame.copy_memory().smartcrop(
            plan.crop.width, plan.crop.height,
            VImage::option()->set("interesting", focus == Focus::kAttention ? VIPS_INTERESTING_ATTENTION
                                                                            : VIPS_INTERESTING_ENTROPY));
      });
    }

    // 5b. Effects at the output's size, so their sigma means output pixels and their
    // cost follows the output, not the original; before the letterbox, so bars stay flat.
    if (spec.effects.blur > 0 || spec.effects.sharpen > 0) {
      per_frame([&](const VImage& frame) {
        VImage done = frame;
        if (spec.effects.blur > 0) done = blur(done, spec.effects.blur);
        if (spec.effects.sharpen > 0) done = sharpen(done, spec.effects.sharpen);
        return done;
      });
    }

    // 6. Contain: letterbox onto the canvas in bg=, else white (transparent where the picture has alpha).
    const auto& background = spec.geometry.background;
    if (plan.canvas != plan.crop) {
      per_frame([&](const VImage& input) {
        const VImage frame = background ? ready_for(input, *background, supports_alpha(spec.output)) : input;
        return frame.embed(
            (plan.canvas.width - frame.width()) / 2, (plan.canvas.height - frame.height()) / 2,
            plan.canvas.width, plan.canvas.height,
            VImage::option()
                ->set("extend", VIPS_EXTEND_BACKGROUND)
                ->set("background", background ? colour_for(frame, *background)
                                               : white_background(frame.bands(), frame.has_alpha())));
      });
    }

    // 7. Formats without alpha get the picture flattened onto bg= (its alpha ignored), else white, not black.
    if (image.has_alpha() && !supports_alpha(spec.output)) {
      if (background) image = ready_for(image, *background, false);
      std::vector<double> under =
          background ? colour_for(image, *background) : white_background(image.bands(), false);
      under.pop_back();  // the alpha channel's share
      image = image.flatten(VImage::option()->set("background", under));
    }

    // 8. Variants carry no metadata: smaller, and no camera or location data leaks.
    image = without_metadata(image);

    // 9. Encode under the deadline's watchdog.
    vips_image_set_progress(image.get_image(), TRUE);
    Encoded encoded;
    {
      const SignalConnection watching(image.get_image(), "eval", G_CALLBACK(Watchdog::on_eval), &watchdog);
      encoded.bytes = encode(image, spec.output, spec.quality, quality, spec.options);
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

std::string describe(std::string_view bytes, const SourceInfo& source, Deadline deadline) {
  const Plan plan = plan_geometry(source.size, {kDescribeSide, kDescribeSide, Fit::kInside, false});
  Watchdog watchdog{deadline};
  try {
    // The first frame, upright, small enough for ThumbHash, as 8-bit sRGB with alpha.
    VImage image = decode_resized(bytes, source, plan.resize, 1);
    if (!image.has_alpha()) image = image.bandjoin_const({255.0});
    vips_image_set_progress(image.get_image(), TRUE);
    std::string rgba;
    {
      const SignalConnection watching(image.get_image(), "eval", G_CALLBACK(Watchdog::on_eval), &watchdog);
      std::size_t length = 0;
      void* pixels = image.write_to_memory(&length);
      const OwnedBuffer owned(pixels);
      rgba.assign(static_cast<const char*>(pixels), length);
    }
    char colour[8];
    std::snprintf(colour, sizeof colour, "#%06x", dominant_colour(rgba));
    const Json json = {
        {"width", source.size.width},
        {"height", source.size.height},
        {"format", format_name(source.format)},
        {"frames", source.frames},
        {"alpha", source.alpha},
        {"dominant_colour", std::string(colour)},
        {"thumbhash", base64_encode(thumbhash_encode(image.width(), image.height(), rgba))},
    };
    return to_json(json) + "\n";
  } catch (const VError& error) {
    if (watchdog.fired) throw Error(ErrorKind::kTimeout, "image took longer than the deadline");
    throw Error(ErrorKind::kUnprocessable,
                "corrupt or truncated " + std::string(format_name(source.format)) + " image");
  }
}

}  // namespace imageflex
