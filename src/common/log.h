// Structured logging: one JSON object per line. Every JSON the service writes (logs,
// stats) is built with nlohmann::ordered_json and written by to_json(), so escaping
// lives in one place.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace imageflex {

using Json = nlohmann::ordered_json;  // keys stay in the order they were added

// Compact JSON text. Never throws: bytes that are not UTF-8 (a raw request path, say)
// are replaced with U+FFFD.
std::string to_json(const Json& value);

// Writes one object as a line on stdout atomically (whole lines never interleave):
// the access log.
void log_line(const Json& object);

// {"level":"...","msg":"..."} on stderr, for start-up, warnings and internal errors.
void log_event(std::string_view level, std::string_view message);

}  // namespace imageflex
