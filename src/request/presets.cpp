#include "request/presets.h"

#include <algorithm>
#include <fstream>
#include <initializer_list>
#include <sstream>

#include "common/error.h"
#include "common/text.h"
#include "request/image_request.h"

namespace imageflex {
namespace {

// A 400 naming the file and line (`where`) and what is wrong there, in parts.
[[noreturn]] void fail(const std::string& where, std::initializer_list<std::string_view> parts) {
  std::string reason = where;
  for (std::string_view part : parts) reason += part;
  throw Error(ErrorKind::kBadRequest, reason);
}

bool valid_name(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

// "w=200,h=200,q=avif:60,webp:75" → pairs; a piece without '=' continues the value before it.
std::vector<std::pair<std::string, std::string>> split_parameters(std::string_view text,
                                                                  const std::string& where) {
  std::vector<std::pair<std::string, std::string>> pairs;
  std::size_t start = 0;
  char before = '&';
  while (start <= text.size()) {
    auto end = text.find_first_of(",&", start);
    if (end == std::string_view::npos) end = text.size();
    const auto piece = trim(text.substr(start, end - start));
    const char separator = before;  // what came before this piece
    before = end < text.size() ? text[end] : '&';
    start = end + 1;
    if (piece.empty()) continue;
    const auto equals = piece.find('=');
    if (equals == std::string_view::npos) {
      if (pairs.empty() || separator == '&') fail(where, {"'", piece, "' is not name=value"});
      pairs.back().second += ',';
      pairs.back().second += piece;
      continue;
    }
    // Presence flags (?lossless) are written with an empty value: lossless=.
    pairs.emplace_back(std::string(trim(piece.substr(0, equals))),
                       std::string(trim(piece.substr(equals + 1))));
  }
  return pairs;
}

}  // namespace

Presets parse_presets(std::string_view text, std::string_view file_name, int max_dimension) {
  Presets presets;
  std::istringstream lines{std::string(text)};
  std::string line;
  int number = 0;
  while (std::getline(lines, line)) {
    ++number;
    const std::string where = std::string(file_name) + ":" + std::to_string(number) + ": ";
    const auto content = trim(line);
    if (content.empty() || content.front() == '#') continue;
    const auto colon = content.find(':');
    if (colon == std::string_view::npos) fail(where, {"expected NAME: PARAMETERS"});
    const std::string name(trim(content.substr(0, colon)));
    if (!valid_name(name)) fail(where, {"preset name '", name, "' must be letters, digits, - or _"});
    if (presets.sets.contains(name)) fail(where, {"preset '", name, "' is repeated"});
    auto pairs = split_parameters(content.substr(colon + 1), where);
    // Each parameter must be one the parser reads, with a value it accepts: a bad preset
    // stops the service at start, not a visitor later.
    std::string query;
    for (const auto& [key, value] : pairs) {
      if (key == "p") fail(where, {"a preset cannot name another preset"});
      if (std::find(kQueryParameters.begin(), kQueryParameters.end(), key) == kQueryParameters.end())
        fail(where, {"'", key, "' is not an image parameter"});
      if (!query.empty()) query += '&';
      query += key;
      query += '=';
      query += value;
    }
    try {
      parse_request("/preset?" + query, max_dimension);
    } catch (const Error& error) {
      fail(where, {error.what()});
    }
    presets.sets.emplace(name, std::move(pairs));
  }
  return presets;
}

Presets load_presets(const std::string& file_name, int max_dimension) {
  std::ifstream in(file_name);
  if (!in) throw Error(ErrorKind::kBadRequest, file_name + ": cannot be read");
  std::stringstream text;
  text << in.rdbuf();
  return parse_presets(text.str(), file_name, max_dimension);
}

}  // namespace imageflex
