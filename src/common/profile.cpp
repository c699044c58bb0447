#include "common/profile.h"

#include <stdexcept>

#include "common/text.h"

namespace imageflex {
namespace {

class LineParser {
 public:
  LineParser(std::string_view text, std::string where) : text_(text), where_(std::move(where)) {}

  [[noreturn]] void fail(const std::string& reason) const {
    throw std::invalid_argument(where_ + ": " + reason);
  }

  bool done() {
    skip_blanks();
    return pos_ >= text_.size() || text_[pos_] == '#';
  }

  std::string key() {
    skip_blanks();
    const std::size_t start = pos_;
    while (pos_ < text_.size() && is_key_char(text_[pos_])) ++pos_;
    if (pos_ == start) fail("expected setting = value");
    return std::string(text_.substr(start, pos_ - start));
  }

  void expect(char c, const std::string& what) {
    skip_blanks();
    if (pos_ >= text_.size() || text_[pos_] != c) fail("expected " + what);
    ++pos_;
  }

  // One value: a scalar, or an array of scalars joined with commas.
  std::string value() {
    skip_blanks();
    if (pos_ < text_.size() && text_[pos_] == '[') {
      ++pos_;
      std::string joined;
      bool first = true;
      for (;;) {
        skip_blanks();
        if (pos_ < text_.size() && text_[pos_] == ']') {
          ++pos_;
          return joined;
        }
        if (!first) {
          expect(',', "',' or ']' in the array");
          skip_blanks();
          if (pos_ < text_.size() && text_[pos_] == ']') continue;  // a trailing comma
        }
        joined += (first ? "" : ",") + scalar();
        first = false;
      }
    }
    return scalar();
  }

 private:
  static bool is_key_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  }

  void skip_blanks() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\r')) ++pos_;
  }

  std::string scalar() {
    skip_blanks();
    if (pos_ >= text_.size()) fail("expected a value");
    if (text_[pos_] == '"') return quoted();
    const std::size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != ']' && text_[pos_] != '#' &&
           text_[pos_] != ' ' && text_[pos_] != '\t' && text_[pos_] != '\r') {
      ++pos_;
    }
    std::string bare(text_.substr(start, pos_ - start));
    if (bare == "true" || bare == "false") return bare;
    const std::size_t digits = !bare.empty() && (bare[0] == '-' || bare[0] == '+') ? 1 : 0;
    bool number = bare.size() > digits;
    for (std::size_t i = digits; i < bare.size(); ++i) number = number && bare[i] >= '0' && bare[i] <= '9';
    if (!number) fail("bad value '" + bare + "': text needs \"quotes\"; numbers and true/false do not");
    return bare;
  }

  std::string quoted() {
    ++pos_;  // the opening quote
    std::string result;
    while (pos_ < text_.size() && text_[pos_] != '"') {
      char c = text_[pos_++];
      if (c == '\\') {
        if (pos_ >= text_.size()) break;
        const char escaped = text_[pos_++];
        switch (escaped) {
          case '"': c = '"'; break;
          case '\\': c = '\\'; break;
          case 'n': c = '\n'; break;
          case 't': c = '\t'; break;
          default: fail(std::string("unknown escape \\") + escaped + " in a string");
        }
      }
      result += c;
    }
    if (pos_ >= text_.size()) fail("unterminated string");
    ++pos_;  // the closing quote
    return result;
  }

  std::string_view text_;
  std::string where_;
  std::size_t pos_ = 0;
};

}  // namespace

std::vector<ProfileEntry> parse_profile(std::string_view text, const std::string& file) {
  std::vector<ProfileEntry> entries;
  int number = 0;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    const std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++number;
    LineParser parser(line, file + ":" + std::to_string(number));
    if (parser.done()) continue;  // blank or a comment
    if (trim(line).front() == '[') parser.fail("tables ([section]) are not used: write setting = value");
    ProfileEntry entry{parser.key(), "", number};
    parser.expect('=', "'=' after " + entry.key);
    entry.value = parser.value();
    if (!parser.done()) parser.fail("unexpected text after the value of " + entry.key);
    for (const auto& earlier : entries) {
      if (earlier.key == entry.key) {
        parser.fail(entry.key + " is set twice (first on line " + std::to_string(earlier.line) + ")");
      }
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

}  // namespace imageflex
