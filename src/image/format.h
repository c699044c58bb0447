// Image formats: detection from bytes, names, MIME types, capabilities.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace imageflex {

enum class Format { kJpeg, kPng, kWebp, kAvif, kGif, kTiff, kHeic };

// Detects the format from the first bytes (magic numbers), never from a file name.
// Returns nullopt for anything that is not one of the formats we serve.
std::optional<Format> sniff_format(std::string_view bytes);
// How many of the first bytes sniff_format reads at most (the longest is a HEIF ftyp box).
inline constexpr std::size_t kSniffBytes = 256;

std::string_view format_name(Format format);  // "jpeg", "png", ...
std::string_view mime_type(Format format);    // "image/jpeg", ...

// Parses an `f=` value: avif, webp, jpeg (alias jpg), png, gif. Case-insensitive.
std::optional<Format> parse_output_format(std::string_view name);

bool supports_alpha(Format format);
bool supports_animation(Format format);

}  // namespace imageflex
