#include "http/conditional.h"

#include "common/text.h"

namespace imageflex {

IfNoneMatch parse_if_none_match(std::string_view header) {
  IfNoneMatch parsed;
  while (!header.empty()) {
    const auto comma = header.find(',');
    auto candidate = trim(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    if (candidate.substr(0, 2) == "W/") candidate.remove_prefix(2);
    if (candidate == "*") {
      parsed.any = true;
    } else if (!candidate.empty()) {
      parsed.tags.emplace_back(candidate);
    }
  }
  return parsed;
}

bool IfNoneMatch::matches(std::string_view quoted_etag) const {
  if (any) return true;
  for (const auto& tag : tags) {
    if (tag == quoted_etag) return true;
  }
  return false;
}

std::string IfNoneMatch::first_unquoted() const {
  if (tags.empty()) return "";
  const std::string& tag = tags.front();
  if (tag.size() < 2 || tag.front() != '"' || tag.back() != '"') return "";
  return tag.substr(1, tag.size() - 2);
}

}  // namespace imageflex
