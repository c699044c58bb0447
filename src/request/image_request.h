// The URL API: a request target ("/photo.jpg?w=400&f=webp") parsed once into a
// plain struct, or an Error with a one-line reason. Nothing downstream re-reads the URL.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "image/effects.h"
#include "image/format.h"
#include "image/geometry.h"
#include "image/quality.h"
#include "request/parameters.h"
#include "request/presets.h"

namespace imageflex {

inline constexpr std::size_t kMaxPathBytes = 1024;
inline constexpr std::size_t kMaxQueryBytes = 2048;

// Every path under this first segment belongs to the service (variants, health, stats)
// and is never an original.
inline constexpr std::string_view kReservedSegment = "_imageflex";

struct ImageRequest {
  std::string key;  // the original's key: decoded, validated, no leading '/'
  GeometryRequest geometry;
  std::optional<Format> format;  // explicit f=; nullopt = negotiate from Accept
  int quality = 0;               // explicit q=N; 0 = the configured default for the format
  FormatQualities quality_for;   // q=avif:60,webp:75: per format, winning over `quality`
  double dpr = 1.0;              // dpr= as given; already multiplied into geometry's sides
  bool dpr_given = false;        // dpr= was in the URL (client hints then do not apply)
  Effects effects;               // blur, sharpen, trim
  OutputOptions options;         // lossless, progressive
  bool meta = false;             // ?meta or f=json: JSON about the original, not an image
  std::string preset;            // p= as sent ("" if absent); already expanded into the fields

  // What a signature covers (request/url_guards.h): the image parameters as sent,
  // percent-decoded, as "name=value" joined by '&' in kQueryParameters order.
  std::string canonical_query;
  std::string expires;    // exp= as sent (unix seconds), "" if absent
  std::string signature;  // s= as sent, "" if absent

  // True when the request asks for a variant rather than the original's bytes.
  bool wants_variant() const {
    return geometry != GeometryRequest{} || format.has_value() || quality > 0 ||
           quality_for != FormatQualities{} || effects.any() || options != OutputOptions{} || meta;
  }
};

inline constexpr double kMaxDpr = 4.0;

// A side multiplied by a device pixel ratio (0 stays 0); -1 when it would exceed max_dimension.
int apply_dpr(int length, double dpr, int max_dimension);

// Parses a request target. `max_dimension` bounds w and h. A p= is expanded from
// `presets` (request/presets.h) before the fields are filled; parameters given beside it
// win. Throws Error: kUriTooLong, kBadRequest (with the parameter named and its allowed
// values; also an unknown preset, or any other image parameter when presets.only),
// kNotFound (reserved path).
ImageRequest parse_request(std::string_view target, int max_dimension, const Presets& presets = Presets{});

// The client hints a browser sends (Sec-CH-DPR, Sec-CH-Width), applied to a request
// that asks for a variant and gives no dpr=: the DPR multiplies w and h as dpr= would,
// and the width (already in device pixels) stands for an absent w. Malformed hints, or
// hints that would pass max_dimension, are ignored: they are the browser's, not the URL's.
ImageRequest apply_client_hints(ImageRequest request, std::string_view dpr_hint, std::string_view width_hint,
                                int max_dimension);

// The names a response lists in Accept-CH and Vary when client hints are honoured.
inline constexpr std::string_view kClientHintHeaders = "Sec-CH-DPR, Sec-CH-Width";

// Validates and normalises an object key (already percent-decoded). Throws kBadRequest.
std::string validate_key(std::string_view decoded_path);

// Percent-decodes; `plus_is_space` for query components. nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);

}  // namespace imageflex
