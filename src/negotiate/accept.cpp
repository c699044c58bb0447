#include "negotiate/accept.h"

#include "common/text.h"

#include <algorithm>
#include <cstdlib>
#include <string>

namespace imageflex {
namespace {

// Digits with at most one '.', and at least one digit; else 0 (malformed). Within 0..1.
double decimal_quality(std::string_view value) {
  const auto digits = std::count_if(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; });
  const auto dots = std::count(value.begin(), value.end(), '.');
  if (digits == 0 || dots > 1 || static_cast<std::size_t>(digits + dots) != value.size()) return 0;
  double q = std::strtod(std::string(value).c_str(), nullptr);
  return q <= 1 ? q : 0;
}

// The q-value of one media range's parameters; 1 when absent, 0 when malformed. Only a
// plain decimal counts (RFC 9110 allows "0.5", never "1e-1", "nan" or "0x1"), so the
// CloudFront Function can mirror this parse exactly.
double quality_of(std::string_view parameters) {
  double q = 1.0;
  while (!parameters.empty()) {
    auto semicolon = parameters.find(';');
    auto parameter = trim(parameters.substr(0, semicolon));
    parameters = semicolon == std::string_view::npos ? std::string_view() : parameters.substr(semicolon + 1);
    if (parameter.size() >= 2 && (parameter[0] == 'q' || parameter[0] == 'Q') && parameter[1] == '=') {
      q = decimal_quality(trim(parameter.substr(2)));
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

AcceptClass accept_class(const AcceptedFormats& accepted) {
  if (accepted.avif && accepted.webp) return AcceptClass::kAvif;
  return accepted.webp ? AcceptClass::kWebp : AcceptClass::kOther;
}

std::string_view accept_class_name(AcceptClass accept_class) {
  switch (accept_class) {
    case AcceptClass::kAvif: return "avif";
    case AcceptClass::kWebp: return "webp";
    case AcceptClass::kOther: return "other";
  }
  return "other";
}

std::string_view canonical_accept(AcceptClass accept_class) {
  switch (accept_class) {
    case AcceptClass::kAvif: return "image/avif,image/webp";
    case AcceptClass::kWebp: return "image/webp";
    case AcceptClass::kOther: return "image/jpeg,image/png,image/gif";
  }
  return "";
}

Format choose_format(const AcceptedFormats& accepted, const SourceInfo& source) {
  const AcceptClass taken = accept_class(accepted);
  if (source.animated()) return taken == AcceptClass::kOther ? Format::kGif : Format::kWebp;
  if (taken == AcceptClass::kAvif) return Format::kAvif;
  if (taken == AcceptClass::kWebp) return Format::kWebp;
  switch (source.format) {
    case Format::kJpeg:
    case Format::kPng:
    case Format::kGif: return source.format;
    default: return source.alpha ? Format::kPng : Format::kJpeg;
  }
}

}  // namespace imageflex
