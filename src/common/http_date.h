// HTTP dates (RFC 9110 "IMF-fixdate": "Sun, 06 Nov 1994 08:49:37 GMT"), written and
// read without the C locale's help, so a process locale cannot change them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace imageflex {

// Unix seconds as an HTTP date, always in GMT.
std::string format_http_date(std::int64_t unix_seconds);

// An HTTP date as unix seconds (surrounding blanks allowed); nullopt for anything
// else, including the obsolete RFC 850 and asctime forms, which no store we talk to sends.
std::optional<std::int64_t> parse_http_date(std::string_view text);

}  // namespace imageflex
