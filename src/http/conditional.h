// Conditional requests (RFC 9110 section 13): does the client already hold this version?
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace imageflex {

// An If-None-Match header, parsed once: "*" or a list of entity tags. Tags keep their
// quotes and lose a W/ prefix, since If-None-Match compares weakly.
struct IfNoneMatch {
  bool any = false;               // "*"
  std::vector<std::string> tags;  // e.g. "\"abc\""

  // True when `quoted_etag` (with its quotes) is named, or for "*".
  bool matches(std::string_view quoted_etag) const;
  // The first tag without its quotes, for a store that checks one ETag itself; "" when
  // the header names none (or only "*", or a malformed tag).
  std::string first_unquoted() const;
};

IfNoneMatch parse_if_none_match(std::string_view header);

}  // namespace imageflex
