#include "negotiate/accept.h"

#include "common/text.h"

#include <algorithm>
#include <cstdlib>
#include <string>

namespace imageflex {
namespace {

// The q-value of one media range's parameters; 1 when absent, 0 when malformed.
double quality_of(std::string_view parameters) {
  double q = 1.0;
  while (!parameters.empty()) {
    auto semicolon = parameters.find(';');
    auto parameter = trim(parameters.substr(0, semicolon));
    parameters = semicolon == std::string_view::npos ? std::string_view() : parameters.substr(semicolon + 1);
    if (parameter.size() >= 2 && (parameter[0] == 'q' || parameter[0] == 'Q') && parameter[1] == '=') {
      std::string value(trim(parameter.substr(2)));
      char* end = nullptr;
      q = std::strtod(value.c_str(), &end);
      if (value.empty() || end != value.c_str() + value.size() || q < 0 || q > 1) q = 0;
    }
  }
  return q;
}

}  // namespace

AcceptedFormats parse_accept(std::string_view header) {
  AcceptedFormats accepted;
  while (!header.empty()) {
    auto comma = header.find(',');
    auto range = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    auto semicolon = range.find(';');
    auto type = to_lower(trim(range.substr(0, semicolon)));
    double q = semicolon == std::string_view::npos ? 1.0 : quality_of(range.substr(semicolon + 1));
    if (q <= 0) continue;
    if (type == "image/avif") accepted.avif = true;
    if (type == "image/webp") accepted.webp = true;
  }
  return accepted;
}

Format choose_format(const AcceptedFormats& accepted, const SourceInfo& source) {
  if (source.animated()) return accepted.webp ? Format::kWebp : Format::kGif;
  if (accepted.avif) return Format::kAvif;
  if (accepted.webp) return Format::kWebp;
  switch (source.format) {
    case Format::kJpeg:
    case Format::kPng:
    case Format::kGif: return source.format;
    default: return source.alpha ? Format::kPng : Format::kJpeg;
  }
}

}  // namespace imageflex
