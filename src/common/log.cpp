#include "common/log.h"

#include <cstdio>
#include <mutex>

namespace imageflex {
namespace {

std::mutex output_mutex;

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
  write_line(stdout, to_json(object));
}

void log_event(std::string_view level, std::string_view message) {
  write_line(stderr, to_json(Json{{"level", level}, {"msg", message}}));
}

}  // namespace imageflex
