// Fuzz target: the image core on small inputs, probe() then transform(). The whole
// input is the original; its last four bytes also choose the variant (size up to 64x64,
// fit, enlarge, quality, and JPEG, PNG, WebP or GIF output). Decoders ignore bytes after
// an image's end, so appending bytes varies the variant and keeps the picture.
// Invariants: only imageflex::Error escapes; a variant made has the format asked for,
// fits the limits, and is not empty. Originals are capped as libvips' own fuzzers cap
// them (at most 256x256 pixels in all), through our own Limits, so that probe's limit
// checks are on the path.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
#include "image/pipeline.h"

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** argv) {
  imageflex::init_vips((*argv)[0]);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace imageflex;
  if (size < 4) return 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const std::uint8_t* choice = data + size - 4;

  Limits limits;
  limits.max_source_bytes = 1 << 20;
  limits.max_source_pixels = 256 * 256;
  limits.max_frames = 16;
  limits.max_output_dimension = 256;

  constexpr Format kOutputs[] = {Format::kJpeg, Format::kPng, Format::kWebp, Format::kGif};
  TransformSpec spec;
  spec.output = kOutputs[choice[0] & 3];
  spec.quality = (choice[0] >> 2) % 26 * 4;  // 0 (the default) or 4..100
  spec.geometry.width = choice[1] % 65;      // 0 = not given
  spec.geometry.height = choice[2] % 65;
  spec.geometry.fit = static_cast<Fit>(choice[3] & 3);
  spec.geometry.enlarge = (choice[3] & 4) != 0;
  if (spec.geometry.width == 0 || spec.geometry.height == 0) spec.geometry.fit = Fit::kCover;  // as parsed

  const Quality quality;
  fuzz::only_error_escapes([&] {
    const SourceInfo source = probe(bytes, limits);
    FUZZ_CHECK(source.size.width > 0 && source.size.height > 0 && source.frames >= 1);
    FUZZ_CHECK(static_cast<std::uint64_t>(source.size.width) * source.size.height * source.frames <=
               limits.max_source_pixels);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    const Encoded encoded = transform(bytes, source, spec, limits, quality, deadline);
    FUZZ_CHECK(encoded.format == spec.output && !encoded.bytes.empty());
    FUZZ_CHECK(encoded.size.width >= 1 && encoded.size.width <= limits.max_output_dimension);
    FUZZ_CHECK(encoded.size.height >= 1 && encoded.size.height <= limits.max_output_dimension);
    FUZZ_CHECK(sniff_format(encoded.bytes) == spec.output);
  });
  end_vips_job();
  return 0;
}
