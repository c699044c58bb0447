// Small string helpers shared by the parsers (Accept, S3 headers, config files).
#pragma once

#include <string>
#include <string_view>

namespace imageflex {

// Without leading and trailing spaces, tabs, CR and LF.
std::string_view trim(std::string_view text);

// ASCII lower case.
std::string to_lower(std::string_view text);

}  // namespace imageflex
