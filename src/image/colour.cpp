#include "image/colour.h"

#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/hash.h"

namespace imageflex {

using vips::VImage;

namespace {

// Perceptual (sharp's intent too) with black point compensation, which with libvips' v2
// sRGB profile matches Little CMS's perceptual conversion: ink black stays black.
VImage through_profile(const VImage& image, bool cmyk) {
  return image.icc_transform("srgb", VImage::option()
                                         ->set("embedded", true)
                                         ->set("input_profile", cmyk ? "cmyk" : "srgb")
                                         ->set("intent", VIPS_INTENT_PERCEPTUAL)
                                         ->set("black_point_compensation", true));
}

// Every colour on a lattice of 16 levels a channel, then each channel's and grey's 256
// levels alone: 5120 pixels, in which a profile that is not sRGB moves something.
VImage colour_probe() {
  std::vector<unsigned char> rgb;
  for (int r = 0; r < 256; r += 17) {
    for (int g = 0; g < 256; g += 17) {
      for (int b = 0; b < 256; b += 17)
        rgb.insert(rgb.end(), {static_cast<unsigned char>(r), static_cast<unsigned char>(g),
                               static_cast<unsigned char>(b)});
    }
  }
  for (int level = 0; level < 256; ++level) {
    const auto v = static_cast<unsigned char>(level);
    rgb.insert(rgb.end(), {v, 0, 0, 0, v, 0, 0, 0, v, v, v, v});
  }
  const int pixels = static_cast<int>(rgb.size() / 3);
  return VImage(
             vips_image_new_from_memory_copy(rgb.data(), rgb.size(), 80, pixels / 80, 3, VIPS_FORMAT_UCHAR))
      .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
}

// Whether converting through this profile moves no channel of the probe by more than one
// level: the common HP "sRGB IEC61966-2.1" profile moves 16 of its 5120 pixels by one against
// libvips' own sRGB, an invisible difference (a JPEG's quantisation moves far more).
bool moves_no_colour_beyond_a_level(const void* profile, std::size_t length) {
  const VImage probe = colour_probe();
  VImage tagged = probe.copy();
  vips_image_set_blob_copy(tagged.get_image(), VIPS_META_ICC_NAME, profile, length);
  try {
    const VImage converted = through_profile(tagged, false);
    return converted.bands() == 3 && converted.format() == VIPS_FORMAT_UCHAR &&
           (converted.cast(VIPS_FORMAT_INT) - probe.cast(VIPS_FORMAT_INT)).abs().max() <= 1;
  } catch (const vips::VError&) {
    vips_error_clear();
    return false;  // not an RGB profile, or a broken one: the real conversion decides
  }
}

}  // namespace

bool profile_is_srgb(const VImage& image) {
  const void* profile = nullptr;
  std::size_t length = 0;
  if (image.format() != VIPS_FORMAT_UCHAR || image.bands() < 3 ||
      image.interpretation() != VIPS_INTERPRETATION_sRGB ||
      vips_image_get_blob(image.get_image(), VIPS_META_ICC_NAME, &profile, &length) != 0) {
    return false;
  }
  // Judged once per distinct profile (a handful in practice: most photos carry the same
  // few sRGB profiles), bounded against a stream of made-up ones.
  constexpr std::size_t kRemembered = 64;
  static std::mutex mutex;
  static std::unordered_map<std::string, bool> judged;
  const std::string key = sha256_hex({static_cast<const char*>(profile), length});
  {
    const std::lock_guard lock(mutex);
    if (const auto found = judged.find(key); found != judged.end()) return found->second;
  }
  const bool srgb = moves_no_colour_beyond_a_level(profile, length);
  const std::lock_guard lock(mutex);
  if (judged.size() >= kRemembered) judged.clear();
  judged.emplace(key, srgb);
  return srgb;
}

VImage to_srgb8(const VImage& input) {
  VImage image = input;
  const bool cmyk = image.interpretation() == VIPS_INTERPRETATION_CMYK;
  if (image.get_typeof(VIPS_META_ICC_NAME) != 0 || cmyk) {
    // An sRGB profile (most tagged photos) moves no channel by more than one level: its
    // conversion, about 5 ms of Little CMS setting up a transform per picture, is skipped.
    if (!profile_is_srgb(image)) image = through_profile(image, cmyk);
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
