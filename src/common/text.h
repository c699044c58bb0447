// Small string helpers shared by the parsers (Accept, S3 headers, config files).
#pragma once

#include <string>
#include <string_view>

namespace imageflex {

// Without leading and trailing spaces, tabs, CR and LF.
std::string_view trim(std::string_view text);

// ASCII lower case.
std::string to_lower(std::string_view text);

// An entity tag as it travels in ETag, If-Match and If-None-Match: our ETags are kept
// without quotes, so this adds them. "*", weak tags (W/...) and tags already quoted
// are returned as they are.
std::string quote_etag(std::string_view etag);

// The opposite: without surrounding blanks and one pair of double quotes, if present.
std::string unquote_etag(std::string_view etag);

}  // namespace imageflex
