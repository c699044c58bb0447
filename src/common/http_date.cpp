#include "common/http_date.h"

#include <cstdio>
#include <ctime>

#include "common/text.h"

namespace imageflex {
namespace {

constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

}  // namespace

std::string format_http_date(std::int64_t unix_seconds) {
  const auto seconds = static_cast<std::time_t>(unix_seconds);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  // Names from our own tables: strftime's %a and %b follow the locale.
  char buffer[40];
  const int length = std::snprintf(buffer, sizeof buffer, "%s, %02d %s %04d %02d:%02d:%02d GMT",
                                   kDays[utc.tm_wday], utc.tm_mday, kMonths[utc.tm_mon], utc.tm_year + 1900,
                                   utc.tm_hour, utc.tm_min, utc.tm_sec);
  return std::string(buffer, static_cast<std::size_t>(length));
}

std::optional<std::int64_t> parse_http_date(std::string_view text) {
  const std::string input(trim(text));
  int day = 0, year = 0, hour = 0, minute = 0, second = 0, consumed = 0;
  char month_name[4] = {};
  char zone[4] = {};
  const int fields = std::sscanf(input.c_str(), "%*3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d %3s%n", &day,
                                 month_name, &year, &hour, &minute, &second, zone, &consumed);
  if (fields != 7 || static_cast<std::size_t>(consumed) != input.size() || std::string_view(zone) != "GMT") {
    return std::nullopt;
  }
  int month = -1;
  for (int i = 0; i < 12; ++i) {
    if (std::string_view(month_name) == kMonths[i]) month = i;
  }
  if (month < 0 || day < 1 || day > 31 || year < 1970 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  std::tm utc{};
  utc.tm_year = year - 1900;
  utc.tm_mon = month;
  utc.tm_mday = day;
  utc.tm_hour = hour;
  utc.tm_min = minute;
  utc.tm_sec = second;
  return static_cast<std::int64_t>(timegm(&utc));
}

}  // namespace imageflex
