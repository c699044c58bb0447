#include "common/text.h"

#include <algorithm>
#include <cctype>

namespace imageflex {
namespace {

bool is_quoted(std::string_view text) {
  return text.size() >= 2 && text.front() == '"' && text.back() == '"';
}

}  // namespace

std::string_view trim(std::string_view text) {
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && blank(text.back())) text.remove_suffix(1);
  return text;
}

std::string to_lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string quote_etag(std::string_view etag) {
  if (etag == "*" || is_quoted(etag) || etag.substr(0, 2) == "W/") return std::string(etag);
  return "\"" + std::string(etag) + "\"";
}

std::string unquote_etag(std::string_view etag) {
  etag = trim(etag);
  if (is_quoted(etag)) etag = etag.substr(1, etag.size() - 2);
  return std::string(etag);
}

}  // namespace imageflex
