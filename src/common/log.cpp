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

}  // namespace imageflex
