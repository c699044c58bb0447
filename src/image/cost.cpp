#include "image/cost.h"

#include <algorithm>
#include <string>

#include "common/error.h"

namespace imageflex {
namespace {

// Calibrated by peak RSS (VmHWM, `/usr/bin/time -f %M imageflex convert IN OUT w=...`)
// of single jobs less the process's own 37 MB, on a 5120x2880 original (14.7 MP) made
// into 4000x2250 (9.0 MP) outputs, libvips 8.14 on Debian 12:
//
//   in \ out      jpeg w=400   jpeg    png    webp   avif    (MB above baseline)
//   jpeg              3         42      17     57     148
//   png              18         43      16     56     147
//   webp              0         94      67    109     199
//   avif             98        114      98    128     219
//
// and again in the server, where it counts (one miss on a fresh `imageflex serve
// --memory-cache-mb 0` under MALLOC_CONF=dirty_decay_ms:0, VmHWM less VmRSS before it, MiB;
// `python3 bench/job_memory.py`):
//
//   5120x2880 source             avif 4000   avif 2000   webp 4000   jpeg 4000
//   Altai (baseline, 0.7 MB)          184          58          59          57
//   SafeLanding (baseline, 4 MB)      201          64          77          61
//   Flow (progressive, 3.8 MB)        265         145         145         145
//
// So per output pixel: JPEG 6 B (optimize_coding buffers the coefficients), PNG 1.9 B,
// WebP 6.5 B and AVIF 21 B plus 12 MiB of libaom's own state (both encoders hold the whole
// image, AVIF in libaom's buffers too; the server's AVIF figures were 25 % over what
// `convert` showed, and a storm admitted on the lower ones went 20 % over its budget).
// Per decoded pixel: baseline JPEG and non-interlaced PNG stream (about nothing beyond the
// resize); WebP decodes whole at its shrink-on-load size, 5.8-7 B per pixel; AVIF/HEIC
// decode the whole frame at full size, 6.7 B per source pixel. Progressive JPEG (its
// coefficients), interlaced PNG and TIFF are charged the whole decoded image at two bytes
// a sample (Flow above: 88 MB for its coefficients).
constexpr double kEncodeBytesPerPixel[] = {
    6.0,   // kJpeg
    2.0,   // kPng (+ the encoded bytes, below)
    6.5,   // kWebp
    21.0,  // kAvif
    6.0,   // kGif: cgif quantises each frame (not measured; RGBA in, indices out)
};
constexpr std::uint64_t kAvifEncoderBytes = 12ull << 20;  // libaom's encoder state, whatever the size
constexpr double kWebpDecodeBytesPerPixel = 7.0;
constexpr double kHeifDecodeBytesPerPixel = 7.0;
constexpr double kGifFrameBytesPerPixel = 4.0;      // every decoded frame, RGBA
constexpr std::uint64_t kJobOverhead = 4ull << 20;  // libvips' per-job buffers, thread state

double encode_bytes_per_pixel(Format output) {
  switch (output) {
    case Format::kJpeg: return kEncodeBytesPerPixel[0];
    case Format::kPng: return kEncodeBytesPerPixel[1];
    case Format::kWebp: return kEncodeBytesPerPixel[2];
    case Format::kAvif: return kEncodeBytesPerPixel[3];
    case Format::kGif: return kEncodeBytesPerPixel[4];
    default: return kEncodeBytesPerPixel[3];  // never an output; the dearest
  }
}

std::uint64_t pixels(Size size) {
  return static_cast<std::uint64_t>(size.width) * size.height;
}

int output_frames(const SourceInfo& source, Format output) {
  return supports_animation(output) ? source.frames : 1;
}

// The decoder's share: what it holds beyond the strips a streaming pipeline passes on.
double decode_bytes(const SourceInfo& source, const Plan& plan, int frames) {
  const double whole_decode = static_cast<double>(pixels(source.size)) * source.bands * 2.0;
  switch (source.format) {
    case Format::kJpeg: return source.progressive ? whole_decode : 0.0;
    case Format::kPng: return source.interlaced ? whole_decode : 0.0;
    case Format::kWebp: return static_cast<double>(pixels(plan.resize)) * frames * kWebpDecodeBytesPerPixel;
    case Format::kAvif:
    case Format::kHeic: return static_cast<double>(pixels(source.size)) * kHeifDecodeBytesPerPixel;
    case Format::kTiff: return whole_decode;
    case Format::kGif:
      // libnsgif's canvas at full size, and every frame kept at its resized size.
      return static_cast<double>(pixels(source.size) + pixels(plan.resize) * frames) * kGifFrameBytesPerPixel;
  }
  return whole_decode;
}

}  // namespace

std::uint64_t output_pixels(const SourceInfo& source, const Plan& plan, Format output) {
  return pixels(plan.canvas) * static_cast<std::uint64_t>(output_frames(source, output));
}

std::uint64_t estimate_memory(const SourceInfo& source, std::uint64_t source_bytes, const Plan& plan,
                              Format output, const Effects& effects) {
  const int frames = output_frames(source, output);
  const auto out_pixels = static_cast<double>(output_pixels(source, plan, output));
  double bytes = static_cast<double>(kJobOverhead) + static_cast<double>(source_bytes);
  // crop= decodes the whole original at full size (random access, no shrink-on-load).
  const bool region = plan.region != Region{0, 0, source.size.width, source.size.height};
  bytes += region ? static_cast<double>(pixels(source.size)) * source.bands * frames * 2.0
                  : decode_bytes(source, plan, frames);
  bytes += out_pixels * encode_bytes_per_pixel(output);
  if (output == Format::kAvif) bytes += static_cast<double>(kAvifEncoderBytes);
  // The encoded result is held while it is stored: a lossless one can be as large as its pixels.
  if (output == Format::kPng || output == Format::kGif) bytes += out_pixels * (source.alpha ? 4 : 3);
  // Trim holds the decoded image; blur and sharpen work in float (effects_memory).
  // Trim decodes the whole source (the content's size is not known before).
  const std::uint64_t effect_pixels = effects.trim > 0 ? pixels(source.size) : pixels(plan.resize) * frames;
  bytes += static_cast<double>(effects_memory(effects, effect_pixels, source.alpha ? 4 : 3));
  return static_cast<std::uint64_t>(bytes);
}

// Calibrated by CPU time (user+sys, `/usr/bin/time imageflex convert`) of AVIF misses from a
// 5120x2880 JPEG (bench/corpus.sh) less a 16 px JPEG of it (startup and decode), libvips 8.14
// with libaom on this 2-core Debian 12 VM: at effort 0, 1200x675 took 0.15-0.30 s,
// 2400x1350 0.50-0.80 s and 4000x2250 1.5-1.6 s, about 170 ns per output pixel once
// large. At 1200 px effort 1 cost as effort 0, effort 2 about 1.5x and effort 4 about 5.5x;
// beyond 4 (not measured: minutes per image) libaom's time about doubles per step.
constexpr double kAvifNanosecondsPerPixel = 170.0;
constexpr double kAvifEffortFactor[] = {1.0, 1.0, 1.5, 3.0, 5.5, 11.0, 22.0, 44.0, 88.0, 176.0};

double estimate_avif_encode_ms(std::uint64_t pixels, int effort) {
  const int step = std::clamp(effort, 0, 9);
  return static_cast<double>(pixels) * kAvifNanosecondsPerPixel * kAvifEffortFactor[step] / 1e6;
}

void check_output_pixels(const SourceInfo& source, const Plan& plan, Format output, const Limits& limits) {
  const std::uint64_t count = output_pixels(source, plan, output);
  if (count > limits.max_output_pixels) {
    throw Error(ErrorKind::kTooLarge, "result would have " + std::to_string(count) + " pixels, limit " +
                                          std::to_string(limits.max_output_pixels));
  }
}

}  // namespace imageflex
