#include "common/log.h"

#include <cstdio>
#include <mutex>

namespace imageflex {
namespace {
std::mutex output_mutex;
}

std::string json_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

void log_line(const std::string& line) {
  std::lock_guard lock(output_mutex);
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

void log_event(std::string_view level, std::string_view message) {
  std::string line = "{\"level\":\"" + json_escape(level) + "\",\"msg\":\"" + json_escape(message) + "\"}\n";
  std::lock_guard lock(output_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

RepeatFilter::RepeatFilter(Clock::duration interval, std::size_t max_messages)
    : interval_(interval), max_messages_(max_messages) {}

std::optional<std::string> RepeatFilter::admit(std::string_view message, Clock::time_point now) {
  std::string key;
  key.reserve(message.size());
  for (char c : message) {
    const bool digit = c >= '0' && c <= '9';
    if (!digit)
      key += c;
    else if (key.empty() || key.back() != '#')
      key += '#';
  }
  std::lock_guard lock(mutex_);
  auto found = seen_.find(key);
  if (found == seen_.end()) {
    // A bounded table: forget messages quiet for an interval; when it is still full of
    // busy ones, a new message is dropped rather than letting the table grow.
    if (seen_.size() >= max_messages_) {
      std::erase_if(seen_, [&](const auto& entry) { return now - entry.second.reported >= interval_; });
      if (seen_.size() >= max_messages_) return std::nullopt;
    }
    seen_.emplace(std::move(key), Seen{now, 0});
    return std::string(message);
  }
  Seen& seen = found->second;
  if (now - seen.reported < interval_) {
    ++seen.repeats;
    return std::nullopt;
  }
  std::string line(message);
  if (seen.repeats > 0) {
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now - seen.reported).count();
    line += " (repeated " + std::to_string(seen.repeats + 1) + " times in the last " +
            std::to_string(seconds) + " s)";
  }
  seen = Seen{now, 0};
  return line;
}

}  // namespace imageflex
