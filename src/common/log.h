// Structured logging: one JSON object per line. Every JSON the service writes (logs,
// stats) is built with nlohmann::ordered_json and written by to_json(), so escaping
// lives in one place.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace imageflex {

using Json = nlohmann::ordered_json;  // keys stay in the order they were added

// Compact JSON text. Never throws: bytes that are not UTF-8 (a raw request path, say)
// are replaced with U+FFFD.
std::string to_json(const Json& value);

// Writes one object as a line on stdout atomically (whole lines never interleave):
// the access log. Once set_log_environment() has named the environment, the line starts
// with "env" (unless the object has one).
void log_line(const Json& object);

// {"level":"...","env":"...","msg":"..."} on stderr, for start-up, warnings and internal
// errors; "env" once set_log_environment() has named the environment (dev, staging, prod).
void log_event(std::string_view level, std::string_view message);

// Names the environment in every log_event and log_line line from now on (set once, at start).
void set_log_environment(std::string name);

// Keeps a flood of identical warnings (libtiff can warn once per strip, on every read
// of a file) to one line plus at most one summary per interval for each message.
// Messages that differ only in their numbers ("error in tile 0 x 8") count as one.
// Thread-safe.
class RepeatFilter {
 public:
  using Clock = std::chrono::steady_clock;
  explicit RepeatFilter(Clock::duration interval, std::size_t max_messages = 256);

  // The line to log for this occurrence: the message itself the first time (or the
  // first time after a quiet interval); the message with "(repeated N times in the
  // last S s)" when an interval has passed with repeats; nothing otherwise.
  std::optional<std::string> admit(std::string_view message, Clock::time_point now = Clock::now());

 private:
  struct Seen {
    Clock::time_point reported;  // when a line about it was last logged
    long repeats = 0;            // occurrences since then, not logged
  };
  Clock::duration interval_;
  std::size_t max_messages_;
  std::mutex mutex_;
  std::map<std::string, Seen, std::less<>> seen_;
};

}  // namespace imageflex
