// Minimal structured logging: one JSON object per line.
#pragma once

#include <string>
#include <string_view>

namespace imageflex {

// Escapes a string for use inside a JSON string literal.
std::string json_escape(std::string_view text);

// Writes one line to stdout atomically (whole lines never interleave).
void log_line(const std::string& line);

// {"level":"...","msg":"..."} on stderr, for start-up and internal errors.
void log_event(std::string_view level, std::string_view message);

}  // namespace imageflex
