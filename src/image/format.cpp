#include "image/format.h"

#include "common/text.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>

namespace imageflex {
namespace {

bool starts_with(std::string_view bytes, std::string_view magic, std::size_t offset = 0) {
  return bytes.size() >= offset + magic.size() && bytes.substr(offset, magic.size()) == magic;
}

// ISO-BMFF (HEIF family): "ftyp" box at offset 4, major brand at 8, compatible brands after.
std::optional<Format> sniff_heif(std::string_view bytes) {
  if (!starts_with(bytes, "ftyp", 4) || bytes.size() < 16) return std::nullopt;
  auto box_size = static_cast<std::size_t>(static_cast<unsigned char>(bytes[0])) << 24 |
                  static_cast<std::size_t>(static_cast<unsigned char>(bytes[1])) << 16 |
                  static_cast<std::size_t>(static_cast<unsigned char>(bytes[2])) << 8 |
                  static_cast<std::size_t>(static_cast<unsigned char>(bytes[3]));
  box_size = std::clamp<std::size_t>(box_size, 16, std::min<std::size_t>(bytes.size(), 256));
  auto brand = [&](std::size_t at) { return bytes.substr(at, 4); };
  static constexpr std::array<std::string_view, 2> kAvif = {"avif", "avis"};
  static constexpr std::array<std::string_view, 8> kHeic = {"heic", "heix", "hevc", "hevx",
                                                            "heim", "heis", "mif1", "msf1"};
  // The major brand decides first; "mif1" is generic, so look at compatible brands too.
  for (std::size_t at = 8; at + 4 <= box_size; at += 4) {
    if (at == 12) continue;  // minor version, not a brand
    if (std::find(kAvif.begin(), kAvif.end(), brand(at)) != kAvif.end()) return Format::kAvif;
  }
  for (std::size_t at = 8; at + 4 <= box_size; at += 4) {
    if (at == 12) continue;
    if (std::find(kHeic.begin(), kHeic.end(), brand(at)) != kHeic.end()) return Format::kHeic;
  }
  return std::nullopt;
}

}  // namespace

std::optional<Format> sniff_format(std::string_view bytes) {
  if (starts_with(bytes, "\xFF\xD8\xFF")) return Format::kJpeg;
  if (starts_with(bytes, "\x89PNG\r\n\x1A\n")) return Format::kPng;
  if (starts_with(bytes, "GIF87a") || starts_with(bytes, "GIF89a")) return Format::kGif;
  if (starts_with(bytes, "RIFF") && starts_with(bytes, "WEBP", 8)) return Format::kWebp;
  if (starts_with(bytes, std::string_view("II*\0", 4)) || starts_with(bytes, std::string_view("MM\0*", 4))) {
    return Format::kTiff;
  }
  return sniff_heif(bytes);
}

std::string_view format_name(Format format) {
  switch (format) {
    case Format::kJpeg: return "jpeg";
    case Format::kPng: return "png";
    case Format::kWebp: return "webp";
    case Format::kAvif: return "avif";
    case Format::kGif: return "gif";
    case Format::kTiff: return "tiff";
    case Format::kHeic: return "heic";
  }
  return "unknown";
}

std::string_view mime_type(Format format) {
  switch (format) {
    case Format::kJpeg: return "image/jpeg";
    case Format::kPng: return "image/png";
    case Format::kWebp: return "image/webp";
    case Format::kAvif: return "image/avif";
    case Format::kGif: return "image/gif";
    case Format::kTiff: return "image/tiff";
    case Format::kHeic: return "image/heic";
  }
  return "application/octet-stream";
}

std::optional<Format> parse_output_format(std::string_view name) {
  const std::string lower = to_lower(name);
  if (lower == "jpeg" || lower == "jpg") return Format::kJpeg;
  if (lower == "png") return Format::kPng;
  if (lower == "webp") return Format::kWebp;
  if (lower == "avif") return Format::kAvif;
  if (lower == "gif") return Format::kGif;
  return std::nullopt;
}

bool supports_alpha(Format format) {
  return format != Format::kJpeg;
}

bool supports_animation(Format format) {
  return format == Format::kGif || format == Format::kWebp;
}

}  // namespace imageflex
