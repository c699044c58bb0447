#include "request/image_request.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "common/error.h"

namespace imageflex {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    auto lead = static_cast<unsigned char>(text[i]);
    int extra = lead < 0x80                   ? 0
                : lead >= 0xC2 && lead < 0xE0 ? 1
                : lead >= 0xE0 && lead < 0xF0 ? 2
                : lead >= 0xF0 && lead < 0xF5 ? 3
                                              : -1;
    if (extra < 0 || i + extra > text.size() - 1) return false;  // bad lead or cut short
    for (int k = 1; k <= extra; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return false;
    }
    i += extra + 1;
  }
  return true;
}

[[noreturn]] void bad(const std::string& reason) {
  throw Error(ErrorKind::kBadRequest, reason);
}

int parse_dimension(std::string_view name, std::string_view value, int max) {
  // Digits only (leading zeros allowed, so w=0300 == w=300); no sign, no spaces.
  if (value.empty() || value.size() > 9 ||
      !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    bad(std::string(name) + " must be a whole number of pixels from 1 to " + std::to_string(max));
  }
  int number = 0;
  std::from_chars(value.data(), value.data() + value.size(), number);
  if (number < 1 || number > max) {
    bad(std::string(name) + " must be from 1 to " + std::to_string(max) + ", got " + std::string(value));
  }
  return number;
}

Fit parse_fit(std::string_view value) {
  if (value == "cover") return Fit::kCover;
  if (value == "contain") return Fit::kContain;
  if (value == "inside") return Fit::kInside;
  if (value == "fill") return Fit::kFill;
  bad("fit must be cover, contain, inside or fill");
}

bool parse_flag(std::string_view name, std::string_view value) {
  if (value == "1" || value == "true") return true;
  if (value == "0" || value == "false") return false;
  bad(std::string(name) + " must be true or false");
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      int hi = hex_value(text[i + 1]);
      int lo = hex_value(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string validate_key(std::string_view path) {
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (path.empty()) throw Error(ErrorKind::kNotFound, "no image named in the path");
  if (path.find('\0') != std::string_view::npos) bad("path contains a NUL byte");
  if (path.find('\\') != std::string_view::npos) bad("path contains a backslash");
  if (!valid_utf8(path)) bad("path is not valid UTF-8");
  std::size_t start = 0;
  bool first = true;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    auto segment = path.substr(start, end - start);
    if (segment.empty()) bad("path has an empty segment");
    if (segment == "." || segment == "..") bad("path has a '.' or '..' segment");
    if (first && segment == kReservedSegment) {
      throw Error(ErrorKind::kNotFound, "reserved path");
    }
    if (std::any_of(segment.begin(), segment.end(), [](unsigned char c) { return c < 0x20 || c == 0x7F; })) {
      bad("path contains a control character");
    }
    first = false;
    start = end + 1;
  }
  return std::string(path);
}

ImageRequest parse_request(std::string_view target, int max_dimension) {
  auto question = target.find('?');
  auto raw_path = target.substr(0, question);
  auto raw_query = question == std::string_view::npos ? std::string_view() : target.substr(question + 1);
  if (raw_path.size() > kMaxPathBytes) {
    throw Error(ErrorKind::kUriTooLong, "path longer than " + std::to_string(kMaxPathBytes) + " bytes");
  }
  if (raw_query.size() > kMaxQueryBytes) {
    throw Error(ErrorKind::kUriTooLong, "query longer than " + std::to_string(kMaxQueryBytes) + " bytes");
  }
  auto decoded = percent_decode(raw_path, false);
  if (!decoded) bad("path has a malformed percent escape");

  ImageRequest request;
  request.key = validate_key(*decoded);

  std::set<std::string> seen;
  std::array<std::optional<std::string>, kQueryParameters.size()> given;  // in kQueryParameters order
  std::size_t start = 0;
  while (start < raw_query.size()) {
    auto end = raw_query.find('&', start);
    if (end == std::string_view::npos) end = raw_query.size();
    auto pair = raw_query.substr(start, end - start);
    start = end + 1;
    if (pair.empty()) continue;
    auto equals = pair.find('=');
    auto name = percent_decode(pair.substr(0, equals), true);
    auto value = percent_decode(equals == std::string_view::npos ? "" : pair.substr(equals + 1), true);
    if (!name || !value) bad("query has a malformed percent escape");
    // Unknown parameters are ignored (and never make a variant).
    const auto known = std::find(kQueryParameters.begin(), kQueryParameters.end(), *name);
    const bool signing = std::find(kSignatureParameterNames.begin(), kSignatureParameterNames.end(), *name) !=
                         kSignatureParameterNames.end();
    if (known == kQueryParameters.end() && !signing) continue;
    if (!seen.insert(*name).second) bad(*name + " is given more than once");
    if (signing) {
      (*name == "s" ? request.signature : request.expires) = *value;
      continue;
    }
    given[static_cast<std::size_t>(known - kQueryParameters.begin())] = *value;
    if (*name == "w") {
      request.geometry.width = parse_dimension("w", *value, max_dimension);
    } else if (*name == "h") {
      request.geometry.height = parse_dimension("h", *value, max_dimension);
    } else if (*name == "f") {
      request.format = parse_output_format(*value);
      if (!request.format) bad("f must be avif, webp, jpeg, jpg, png or gif");
    } else if (*name == "q") {
      request.quality = parse_dimension("q", *value, 100);
    } else if (*name == "fit") {
      request.geometry.fit = parse_fit(*value);
    } else if (*name == "enlarge") {
      request.geometry.enlarge = parse_flag("enlarge", *value);
    }
  }
  // One spelling of the query for signatures, whatever order or escapes the URL used.
  for (std::size_t i = 0; i < given.size(); ++i) {
    if (!given[i]) continue;
    if (!request.canonical_query.empty()) request.canonical_query += '&';
    request.canonical_query += std::string(kQueryParameters[i]) + "=" + *given[i];
  }
  // fit only matters when both sides are given; normalise so it never splits a variant.
  if (request.geometry.width == 0 || request.geometry.height == 0) request.geometry.fit = Fit::kCover;
  return request;
}

}  // namespace imageflex
