#include "common/log.h"

#include <cstdio>
#include <mutex>

namespace imageflex {
namespace {

std::mutex output_mutex;
std::string environment_name;  // written once at start, before any thread logs

void write_line(std::FILE* stream, std::string line) {
  line += '\n';
  std::lock_guard lock(output_mutex);
  std::fwrite(line.data(), 1, line.size(), stream);
  std::fflush(stream);
}

}  // namespace

std::string to_json(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

void log_line(const Json& object) {
  std::string line = to_json(object);
  // The environment leads every line, so the logs of dev, staging and prod can share a sink.
  if (!environment_name.empty() && object.is_object() && !object.contains("env")) {
    line.insert(1, "\"env\":" + to_json(environment_name) + (object.empty() ? "" : ","));
  }
  write_line(stdout, std::move(line));
}

void log_event(std::string_view level, std::string_view message) {
  Json event{{"level", level}};
  if (!environment_name.empty()) event["env"] = environment_name;
  event["msg"] = message;
  write_line(stderr, to_json(event));
}

void set_log_environment(std::string name) {
  environment_name = std::move(name);
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
