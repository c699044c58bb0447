#include "request/key.h"

#include <charconv>
#include <cstdio>

#include "common/hash.h"
#include "common/text.h"

namespace imageflex {

std::string_view fit_name(Fit fit) {
  switch (fit) {
    case Fit::kCover: return "cover";
    case Fit::kContain: return "contain";
    case Fit::kInside: return "inside";
    case Fit::kFill: return "fill";
  }
  return "cover";
}

namespace {

// The shortest spelling that reads back as the same double.
std::string decimal(double value) {
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return ec == std::errc() ? std::string(buffer, end) : "0";
}

// Issue 11's geometry, each only when it differs from the default (so a URL without
// them keys as before): region, rotation, mirrors, focus, background.
std::string geometry_extras(const GeometryRequest& g) {
  std::string out;
  if (g.region) {
    const Region& r = *g.region;
    out += ",crop=" + std::to_string(r.x) + ":" + std::to_string(r.y) + ":" + std::to_string(r.width) + ":" +
           std::to_string(r.height);
  }
  if (g.rotate != 0) out += ",rotate=" + std::to_string(g.rotate);
  if (g.flip) out += ",flip";
  if (g.flop) out += ",flop";
  if (g.focus == Focus::kAttention) out += ",pos=attention";
  if (g.focus == Focus::kEntropy) out += ",pos=entropy";
  if (g.focus == Focus::kPoint && (g.focus_x != 0.5 || g.focus_y != 0.5)) {
    out += ",fp=" + decimal(g.focus_x) + ":" + decimal(g.focus_y);
  }
  if (g.background) {
    char hex[10];
    std::snprintf(hex, sizeof hex, "%02x%02x%02x%02x", g.background->r, g.background->g, g.background->b,
                  g.background->a);
    out += ",bg=" + std::string(hex);
  }
  return out;
}

// Effects and output options, named only when asked for, so keys without them are as before.
std::string effects_parameters(const ImageRequest& request) {
  std::string out;
  if (request.effects.blur > 0) out += ",blur=" + decimal(request.effects.blur);
  if (request.effects.sharpen > 0) out += ",sharpen=" + decimal(request.effects.sharpen);
  if (request.effects.trim > 0) out += ",trim=" + std::to_string(request.effects.trim);
  if (request.options.lossless) out += ",lossless";
  if (request.options.progressive) out += ",progressive";
  return out;
}

}  // namespace

std::string canonical_parameters(const ImageRequest& request, const AcceptedFormats& accepted,
                                 const Quality& defaults) {
  // Metadata depends on the original alone.
  if (request.meta) return "meta";
  const auto& g = request.geometry;
  std::string out = "w=" + std::to_string(g.width) + ",h=" + std::to_string(g.height) +
                    ",fit=" + std::string(fit_name(g.fit)) + ",enlarge=" + (g.enlarge ? "1" : "0") +
                    geometry_extras(g);
  if (request.format) {
    out += ",f=" + std::string(format_name(*request.format));
    const int requested = requested_quality(*request.format, request.quality, request.quality_for);
    out += ",q=" + std::to_string(effective_quality(*request.format, requested, defaults));
  } else {
    // Named by the negotiation class, so Accept values that choose alike share a variant.
    const AcceptClass taken = accept_class(accepted);
    out += std::string(",f=auto") + (taken == AcceptClass::kAvif ? "-avif" : "") +
           (taken != AcceptClass::kOther ? "-webp" : "");
    // The format is chosen later, so name every default it might use.
    out += request.quality > 0 ? ",q=" + std::to_string(request.quality)
                               : ",q=auto-" + std::to_string(effective_quality(Format::kJpeg, 0, defaults)) +
                                     "-" + std::to_string(effective_quality(Format::kWebp, 0, defaults)) +
                                     "-" + std::to_string(effective_quality(Format::kAvif, 0, defaults));
    const auto& per = request.quality_for;
    if (per != FormatQualities{}) {
      out += ",q-jpeg=" + std::to_string(per.jpeg) + ",q-webp=" + std::to_string(per.webp) +
             ",q-avif=" + std::to_string(per.avif);
    }
  }
  out += ",effort=" + std::to_string(defaults.avif_effort) + ",z=" + std::to_string(defaults.png_compression);
  return out + effects_parameters(request);
}

std::string variant_key(const ImageRequest& request, const std::string& original_etag,
                        const AcceptedFormats& accepted, const Quality& defaults) {
  // A digest keeps the version segment short and free of characters a store may reject.
  return std::string(kReservedSegment) + "/" + std::string(kPipelineVersion) + "/" + request.key + "/" +
         sha256_hex(original_etag).substr(0, 16) + "/" + canonical_parameters(request, accepted, defaults);
}

std::string variant_etag(const std::string& variant_key) {
  return quote_etag(sha256_hex(variant_key).substr(0, 32));
}

}  // namespace imageflex
