// What a transform will cost, known from the header before any pixel is decoded: its
// peak memory (for admission against the memory budget) and the output's size (for the
// output bounds). Pure arithmetic on plain structs; unit-tested alone.
#pragma once

#include <cstdint>

#include "image/effects.h"
#include "image/format.h"
#include "image/geometry.h"
#include "image/limits.h"
#include "image/source.h"

namespace imageflex {

// Bytes one transform of `source` (whose encoded original is `source_bytes` long) to
// `output` along `plan` may hold at its peak, above the process's own baseline. An
// upper estimate: admission may keep the sum of running estimates under a budget.
// `effects` add what they hold (effects_memory, image/effects.h) at the resized size.
std::uint64_t estimate_memory(const SourceInfo& source, std::uint64_t source_bytes, const Plan& plan,
                              Format output, const Effects& effects = {});

// Output pixels, summed over the frames the output keeps.
std::uint64_t output_pixels(const SourceInfo& source, const Plan& plan, Format output);

// CPU milliseconds an AVIF encode of `pixels` output pixels takes at libvips `effort`
// (0-9) on one core: the time a browser waits beyond what a WebP of the same size costs
// it. An estimate from measurements (cost.cpp), to decide whether AVIF is made now.
double estimate_avif_encode_ms(std::uint64_t pixels, int effort);

// Throws Error(kTooLarge) when the planned output is over max_output_pixels: refused
// before it is made.
void check_output_pixels(const SourceInfo& source, const Plan& plan, Format output, const Limits& limits);

}  // namespace imageflex
