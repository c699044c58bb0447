// The URL API's parameters: one table, and every list that must agree with the parser
// comes from it — the parser's names and the order of a signature's canonical query
// (request/image_request.cpp), `imageflex --help` and `imageflex params` (app/main.cpp),
// and the README's URL API table, the CloudFront Function's allow-list and the nginx
// edge's cache key, which cannot include this header and are compared with it by tests
// (tests/unit/parameters_test.cpp, deploy/aws/test/viewer_request.test.js).
// A new parameter is a row here; the tests then name every copy that lacks it.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

namespace imageflex {

struct UrlParameter {
  std::string_view name;
  std::string_view values;   // what it accepts, as the README shows it
  std::string_view meaning;  // one line, for --help
};

// The parameters that make a variant; every other parameter is ignored. Their order is
// the order of a signature's canonical query, so new rows go at the end.
inline constexpr std::array<UrlParameter, 21> kImageParameters = {{
    {"w", "1-8192", "width in pixels"},
    {"h", "1-8192", "height in pixels"},
    {"fit", "cover|contain|inside|fill", "how w and h together bound the image (default cover)"},
    {"enlarge", "true|false", "allow scaling beyond the original's size (default false)"},
    {"f", "avif|webp|jpeg|jpg|png|gif|json",
     "output format (default: the best the browser accepts; json: as meta)"},
    {"q", "1-100|avif:N,webp:N,jpeg:N",
     "quality for JPEG, WebP and AVIF, or per format (default per format)"},
    // Issue 11: geometry
    {"pos", "center|top|bottom|left|right|top-left|top-right|bottom-left|bottom-right|attention|entropy",
     "where fit=cover keeps its box (default center; attention/entropy: smart crop)"},
    {"fp", "X,Y (0-1 each)", "fit=cover focal point, kept as near the box's centre as the crop allows"},
    {"dpr", "1-4 (decimals allowed)", "device pixel ratio: multiplies w and h"},
    {"bg", "rgb|rrggbb|rrggbbaa (hex)", "letterbox colour (fit=contain) and what alpha is flattened onto"},
    {"rotate", "0|90|180|270", "clockwise rotation, after EXIF orientation"},
    {"flip", "true|false", "mirror top to bottom (after rotate)"},
    {"flop", "true|false", "mirror left to right (after rotate)"},
    {"crop", "x,y,w,h (source pixels)", "region of the upright original to keep, before resizing"},
    // Issue 11: effects and output
    {"blur", "0.3-100", "Gaussian blur sigma in output pixels"},
    {"sharpen", "0.3-10", "sharpen with this Gaussian sigma in output pixels"},
    {"trim", "(none)|1-254", "cut a uniform border; the value is the colour distance threshold (default 10)"},
    {"lossless", "(none)|true|false", "lossless WebP or AVIF (ignored for other formats)"},
    {"progressive", "(none)|true|false", "progressive JPEG or interlaced PNG (ignored for other formats)"},
    {"p", "a preset name", "a named parameter set from --presets; parameters beside it override it"},
    {"meta", "(none)",
     "JSON about the original: size, format, frames, alpha, colour, ThumbHash (also f=json)"},
}};

// The parameters of a signed URL (request/url_guards.h): they say who may ask, never what
// is made, so they never enter a variant's key. The CDN forwards them too.
inline constexpr std::array<UrlParameter, 2> kSignatureParameters = {{
    {"exp", "unix seconds", "signed URLs: refused after this time"},
    {"s", "base64url", "signed URLs: the signature (required with --sign-keys)"},
}};

// The names alone, in table order.
template <std::size_t N>
constexpr std::array<std::string_view, N> parameter_names(const std::array<UrlParameter, N>& table) {
  std::array<std::string_view, N> names{};
  for (std::size_t i = 0; i < N; ++i) names[i] = table[i].name;
  return names;
}

inline constexpr auto kQueryParameters = parameter_names(kImageParameters);
inline constexpr auto kSignatureParameterNames = parameter_names(kSignatureParameters);

}  // namespace imageflex
