// What one request may cost: the bounds every original and variant are held to.
#pragma once

#include <cstdint>

namespace imageflex {

struct Limits {
  std::uint64_t max_source_bytes = 50ull << 20;   // 50 MiB
  std::uint64_t max_source_pixels = 100'000'000;  // 100 MP, summed over all frames loaded
  int max_output_dimension = 8192;                // w, h and the result, in pixels
  int max_frames = 200;                           // animation frames kept
  std::uint64_t max_output_pixels = 50'000'000;   // 50 MP, summed over the frames of the result
  std::uint64_t max_output_bytes = 64ull << 20;   // 64 MiB, the encoded result
  int deadline_ms = 15000;                        // per request, end to end
};

}  // namespace imageflex
