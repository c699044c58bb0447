// Environment profiles (config/dev.toml, config/staging.toml, config/prod.toml): a strict
// subset of TOML, one `setting = value` per line, so a profile reads like the flags it
// stands for. Values: "strings" (with \" \\ \n \t escapes), whole numbers, true/false,
// and one-line arrays of those ([320, 640]), which become comma-separated text.
// Anything else (tables, dotted keys, multi-line values, a key twice) is an error that
// names the file and line: a typo in a profile must stop the start, not be ignored.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace imageflex {

struct ProfileEntry {
  std::string key;    // the setting's flag name, e.g. "memory-cache-mb"
  std::string value;  // as the flag would carry it: "64", "true", "320,640", text unquoted
  int line = 0;       // 1-based, for messages
};

// Throws std::invalid_argument "FILE:LINE: reason".
std::vector<ProfileEntry> parse_profile(std::string_view text, const std::string& file);

}  // namespace imageflex
