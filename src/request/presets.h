// Presets: named parameter sets from a configuration file, used as ?p=NAME.
//
//   # comment
//   thumb: w=200,h=200,fit=cover
//   hero:  w=1600,q=avif:60,webp:75
//
// A preset is a query of image parameters (',' or '&' between them; a ',' that starts
// no name=value continues the value before it, as in q=avif:60,webp:75). It is expanded
// into the request before its parameters are read, so any parameter works in a preset,
// and parameters given beside p= override the preset's. With presets-only, a URL may
// name a preset and nothing else that makes a variant: the only variants that can be
// asked for are the ones the file lists.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace imageflex {

struct Presets {
  // name -> its parameters as name/value pairs, in the file's order.
  std::map<std::string, std::vector<std::pair<std::string, std::string>>, std::less<>> sets;
  bool only = false;  // --presets-only
};

// Parses a presets file's text. Throws Error(kBadRequest) naming "FILE:LINE: reason" for a
// malformed line, a bad name, a repeated preset, or a parameter the parser refuses.
Presets parse_presets(std::string_view text, std::string_view file_name, int max_dimension);

// Reads and parses FILE. Throws Error as parse_presets(), also when unreadable.
Presets load_presets(const std::string& file_name, int max_dimension);

}  // namespace imageflex
