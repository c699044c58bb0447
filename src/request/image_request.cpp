#include "request/image_request.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>
#include <vector>

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

// Comma-separated decimals ("0.5,0.25"), exactly `count` of them, or nullopt.
std::optional<std::vector<double>> parse_decimals(std::string_view value, std::size_t count) {
  std::vector<double> numbers;
  std::size_t start = 0;
  while (numbers.size() < count) {
    auto end = value.find(',', start);
    if (end == std::string_view::npos) end = value.size();
    const auto item = value.substr(start, end - start);
    double number = 0;
    // Plain decimals only: no sign, exponent, inf or nan.
    if (item.empty() || item.size() > 12 ||
        !std::all_of(item.begin(), item.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; }))
      return std::nullopt;
    auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), number);
    if (ec != std::errc() || ptr != item.data() + item.size()) return std::nullopt;
    numbers.push_back(number);
    start = end + 1;
    if (end == value.size()) break;
  }
  if (numbers.size() != count || start <= value.size()) return std::nullopt;
  return numbers;
}

struct Position {
  std::string_view name;
  double x;
  double y;
};

// pos= as a focal point on the box's edge or corner; the crop's clamp does the rest.
constexpr std::array<Position, 9> kPositions = {{
    {"center", 0.5, 0.5},
    {"top", 0.5, 0.0},
    {"bottom", 0.5, 1.0},
    {"left", 0.0, 0.5},
    {"right", 1.0, 0.5},
    {"top-left", 0.0, 0.0},
    {"top-right", 1.0, 0.0},
    {"bottom-left", 0.0, 1.0},
    {"bottom-right", 1.0, 1.0},
}};

void parse_position(std::string_view value, GeometryRequest& geometry) {
  if (value == "attention" || value == "entropy") {
    geometry.focus = value == "attention" ? Focus::kAttention : Focus::kEntropy;
    return;
  }
  for (const auto& position : kPositions) {
    if (position.name == value) {
      geometry.focus_x = position.x;
      geometry.focus_y = position.y;
      return;
    }
  }
  bad("pos must be center, top, bottom, left, right, top-left, top-right, bottom-left, bottom-right, "
      "attention or entropy");
}

void parse_focal_point(std::string_view value, GeometryRequest& geometry) {
  const auto numbers = parse_decimals(value, 2);
  if (!numbers || (*numbers)[0] > 1 || (*numbers)[1] > 1) {
    bad("fp must be X,Y with each a fraction from 0 to 1, e.g. fp=0.5,0.25");
  }
  geometry.focus_x = (*numbers)[0];
  geometry.focus_y = (*numbers)[1];
}

double parse_dpr(std::string_view value) {
  const auto numbers = parse_decimals(value, 1);
  if (!numbers || (*numbers)[0] < 1 || (*numbers)[0] > kMaxDpr) bad("dpr must be a number from 1 to 4");
  return (*numbers)[0];
}

Rgba parse_background(std::string_view value) {
  const bool hex = std::all_of(value.begin(), value.end(), [](char c) { return hex_value(c) >= 0; });
  if (!hex || (value.size() != 3 && value.size() != 6 && value.size() != 8)) {
    bad("bg must be a hex colour: rgb, rrggbb or rrggbbaa");
  }
  auto channel = [&](std::size_t i) {
    if (value.size() == 3) return static_cast<std::uint8_t>(hex_value(value[i]) * 17);
    return static_cast<std::uint8_t>(hex_value(value[2 * i]) * 16 + hex_value(value[2 * i + 1]));
  };
  return {channel(0), channel(1), channel(2), value.size() == 8 ? channel(3) : std::uint8_t{255}};
}

int parse_rotation(std::string_view value) {
  for (int degrees : {0, 90, 180, 270}) {
    if (value == std::to_string(degrees)) return degrees;
  }
  bad("rotate must be 0, 90, 180 or 270");
}

Region parse_region(std::string_view value, int max) {
  const auto numbers = parse_decimals(value, 4);
  const bool whole = numbers && std::all_of(numbers->begin(), numbers->end(),
                                            [&](double n) { return n == std::floor(n) && n <= max * 16.0; });
  if (!whole || (*numbers)[2] < 1 || (*numbers)[3] < 1) {
    bad("crop must be x,y,w,h in whole source pixels, w and h at least 1");
  }
  const auto& n = *numbers;
  return {static_cast<int>(n[0]), static_cast<int>(n[1]), static_cast<int>(n[2]), static_cast<int>(n[3])};
}

// A flag: given alone (?lossless) or as true/false.
bool parse_flag_or_alone(std::string_view name, std::string_view value) {
  return value.empty() || parse_flag(name, value);
}

// A decimal from min to max, at most two decimals kept: "5", "5.0" and "5.00" are one value.
double parse_decimal(std::string_view name, std::string_view value, double min, double max) {
  auto range = [&] {
    char text[64];
    std::snprintf(text, sizeof text, " must be a number from %g to %g", min, max);
    return std::string(name) + text;
  };
  const auto dot = value.find('.');
  auto digits = [](std::string_view part) {
    return std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  const auto whole = value.substr(0, dot);
  const auto fraction = dot == std::string_view::npos ? std::string_view() : value.substr(dot + 1);
  if (whole.empty() || whole.size() > 6 || !digits(whole) || fraction.size() > 6 || !digits(fraction) ||
      (dot != std::string_view::npos && fraction.empty())) {
    bad(range() + ", got '" + std::string(value) + "'");
  }
  const double number = std::round(std::stod(std::string(value)) * 100) / 100;
  if (number < min || number > max) bad(range() + ", got " + std::string(value));
  return number;
}

int parse_trim(std::string_view value) {
  if (value.empty()) return kDefaultTrimThreshold;
  return parse_dimension("trim", value, kMaxTrimThreshold);
}

// q=N for every format, or per format: q=avif:60,webp:75 (a bare N among them is for the rest).
void parse_quality(std::string_view value, ImageRequest& request) {
  const std::string allowed = "q must be 1 to 100, or per format as avif:60,webp:75 (avif, webp, jpeg)";
  std::set<std::string> named;
  std::size_t start = 0;
  while (start <= value.size()) {
    auto end = value.find(',', start);
    if (end == std::string_view::npos) end = value.size();
    const auto item = value.substr(start, end - start);
    start = end + 1;
    const auto colon = item.find(':');
    const auto format_text = colon == std::string_view::npos ? std::string_view() : item.substr(0, colon);
    const auto number = colon == std::string_view::npos ? item : item.substr(colon + 1);
    if (!named.insert(std::string(format_text)).second) bad(allowed + "; each format once");
    int* slot = &request.quality;
    if (colon != std::string_view::npos) {
      const auto format = parse_output_format(format_text);
      if (format == Format::kJpeg)
        slot = &request.quality_for.jpeg;
      else if (format == Format::kWebp)
        slot = &request.quality_for.webp;
      else if (format == Format::kAvif)
        slot = &request.quality_for.avif;
      else
        bad(allowed + ", got '" + std::string(item) + "'");
    }
    if (number.empty() || number.size() > 3 ||
        !std::all_of(number.begin(), number.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      bad(allowed + ", got '" + std::string(item) + "'");
    }
    *slot = std::stoi(std::string(number));
    if (*slot < 1 || *slot > 100) bad(allowed + ", got '" + std::string(item) + "'");
  }
}

// Fills the field one image parameter names.
void apply_parameter(std::string_view name, std::string_view value, int max_dimension,
                     ImageRequest& request) {
  if (name == "w") {
    request.geometry.width = parse_dimension("w", value, max_dimension);
  } else if (name == "h") {
    request.geometry.height = parse_dimension("h", value, max_dimension);
  } else if (name == "f") {
    if (value == "json") {
      request.meta = true;
      return;
    }
    request.format = parse_output_format(value);
    if (!request.format) bad("f must be avif, webp, jpeg, jpg, png, gif or json");
  } else if (name == "q") {
    parse_quality(value, request);
  } else if (name == "fit") {
    request.geometry.fit = parse_fit(value);
  } else if (name == "enlarge") {
    request.geometry.enlarge = parse_flag("enlarge", value);
  } else if (name == "blur") {
    request.effects.blur = parse_decimal("blur", value, kMinBlurSigma, kMaxBlurSigma);
  } else if (name == "sharpen") {
    request.effects.sharpen = parse_decimal("sharpen", value, kMinSharpenSigma, kMaxSharpenSigma);
  } else if (name == "trim") {
    request.effects.trim = parse_trim(value);
  } else if (name == "lossless") {
    request.options.lossless = parse_flag_or_alone("lossless", value);
  } else if (name == "progressive") {
    request.options.progressive = parse_flag_or_alone("progressive", value);
  } else if (name == "meta") {
    if (!value.empty() && value != "1" && value != "true") bad("meta takes no value (or 1, true)");
    request.meta = true;
  } else if (name == "pos") {
    parse_position(value, request.geometry);
  } else if (name == "fp") {
    parse_focal_point(value, request.geometry);
  } else if (name == "dpr") {
    request.dpr = parse_dpr(value);
    request.dpr_given = true;
  } else if (name == "bg") {
    request.geometry.background = parse_background(value);
  } else if (name == "rotate") {
    request.geometry.rotate = parse_rotation(value);
  } else if (name == "flip") {
    request.geometry.flip = parse_flag("flip", value);
  } else if (name == "flop") {
    request.geometry.flop = parse_flag("flop", value);
  } else if (name == "crop") {
    request.geometry.region = parse_region(value, max_dimension);
  }
}

}  // namespace

int apply_dpr(int length, double dpr, int max_dimension) {
  if (length == 0) return 0;
  const auto scaled = static_cast<long>(std::lround(length * dpr));
  if (scaled > max_dimension) return -1;
  return static_cast<int>(scaled);
}

ImageRequest apply_client_hints(ImageRequest request, std::string_view dpr_hint, std::string_view width_hint,
                                int max_dimension) {
  if (request.dpr_given || !request.wants_variant()) return request;
  auto& g = request.geometry;
  if (g.width == 0 && !width_hint.empty()) {
    const auto width = parse_decimals(width_hint, 1);
    if (width && (*width)[0] >= 1 && (*width)[0] <= max_dimension) {
      g.width = static_cast<int>(std::lround((*width)[0]));
      return request;  // a width hint is already in device pixels
    }
  }
  const auto dpr = parse_decimals(dpr_hint, 1);
  if (!dpr || (*dpr)[0] <= 1 || (*dpr)[0] > kMaxDpr) return request;
  const int width = apply_dpr(g.width, (*dpr)[0], max_dimension);
  const int height = apply_dpr(g.height, (*dpr)[0], max_dimension);
  if (width < 0 || height < 0) return request;
  g.width = width;
  g.height = height;
  request.dpr = (*dpr)[0];
  return request;
}

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

ImageRequest parse_request(std::string_view target, int max_dimension, const Presets& presets) {
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
    if (*name == "p") {
      request.preset = *value;
    } else {
      // Presets only: the file's variants are the only ones a URL can ask for (meta's
      // cost is one small decode per original, whatever the URL).
      if (presets.only && *name != "meta") bad(*name + " is not allowed: only p= names a variant here");
      apply_parameter(*name, *value, max_dimension, request);
    }
  }
  // Two answers to one question: refused rather than one silently winning.
  const bool focus_given = seen.count("pos") != 0 || seen.count("fp") != 0;
  if (seen.count("pos") != 0 && seen.count("fp") != 0) bad("pos and fp cannot be given together");
  // A preset's parameters, where the URL gave none of the same name: the URL overrides
  // (and a URL's pos or fp overrides the preset's focus, whichever of the two it uses).
  if (!request.preset.empty()) {
    const auto found = presets.sets.find(request.preset);
    if (found == presets.sets.end()) bad("p must name a configured preset, got '" + request.preset + "'");
    for (const auto& [name, value] : found->second) {
      const bool focus = name == "pos" || name == "fp";
      if (!seen.contains(name) && !(focus && focus_given))
        apply_parameter(name, value, max_dimension, request);
    }
  }
  // dpr multiplies the sides before any bound is judged, so w=300&dpr=2 is w=600.
  if (request.dpr != 1.0) {
    auto& g = request.geometry;
    g.width = apply_dpr(g.width, request.dpr, max_dimension);
    g.height = apply_dpr(g.height, request.dpr, max_dimension);
    if (g.width < 0 || g.height < 0) {
      bad("dpr makes w or h larger than " + std::to_string(max_dimension) + " pixels");
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
