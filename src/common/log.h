// Minimal structured logging: one JSON object per line.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace imageflex {

// Escapes a string for use inside a JSON string literal.
std::string json_escape(std::string_view text);

// Writes one line to stdout atomically (whole lines never interleave).
void log_line(const std::string& line);

// {"level":"...","msg":"..."} on stderr, for start-up and internal errors.
void log_event(std::string_view level, std::string_view message);

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
