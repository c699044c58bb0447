#include "common/metrics.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>

namespace imageflex {
namespace {

// A sample value as Prometheus reads it: integers exactly, others in the shortest form.
std::string number(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (std::isnan(value)) return "NaN";
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return ec == std::errc() ? std::string(buffer, end) : "NaN";
}

// Label values escape backslash, double quote and newline; nothing else.
void append_label_value(std::string& out, std::string_view value) {
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

}  // namespace

Histogram::Histogram(std::span<const double> bounds) : bounds_(bounds) {
  assert(bounds.size() <= kMaxBounds && std::is_sorted(bounds.begin(), bounds.end()));
}

void Histogram::observe(double value) {
  const auto bucket = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) -
                                               bounds_.begin());  // first bound >= value: le is inclusive
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

std::vector<std::uint64_t> Histogram::bucket_counts() const {
  std::vector<std::uint64_t> counts(bounds_.size() + 1);
  for (std::size_t i = 0; i < counts.size(); ++i) counts[i] = counts_[i].load(std::memory_order_relaxed);
  return counts;
}

std::uint64_t Histogram::count() const {
  std::uint64_t total = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) total += counts_[i].load(std::memory_order_relaxed);
  return total;
}

void PrometheusText::family(std::string_view name, std::string_view type, std::string_view help) {
  text_.append("# HELP ").append(name).append(" ").append(help).append("\n");
  text_.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void PrometheusText::series(std::string_view name, Labels labels, std::string_view extra_label,
                            std::string_view extra_value) {
  text_.append(name);
  if (labels.size() == 0 && extra_label.empty()) return;
  char separator = '{';
  auto append = [&](std::string_view label, std::string_view value) {
    text_ += separator;
    text_.append(label).append("=\"");
    append_label_value(text_, value);
    text_ += '"';
    separator = ',';
  };
  for (const auto& [label, value] : labels) append(label, value);
  if (!extra_label.empty()) append(extra_label, extra_value);
  text_ += '}';
}

void PrometheusText::sample(std::string_view name, Labels labels, double value) {
  series(name, labels);
  text_.append(" ").append(number(value)).append("\n");
}

void PrometheusText::sample(std::string_view name, Labels labels, std::uint64_t value) {
  series(name, labels);
  text_.append(" ").append(std::to_string(value)).append("\n");
}

void PrometheusText::histogram(std::string_view name, Labels labels, const Histogram& histogram) {
  // One read of the buckets: the cumulative counts, +Inf and _count agree with each other.
  const auto counts = histogram.bucket_counts();
  const std::string bucket = std::string(name) + "_bucket";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    cumulative += counts[i];
    const std::string le = i < histogram.bounds().size() ? number(histogram.bounds()[i]) : "+Inf";
    series(bucket, labels, "le", le);
    text_.append(" ").append(std::to_string(cumulative)).append("\n");
  }
  sample(std::string(name) + "_sum", labels, histogram.sum());
  sample(std::string(name) + "_count", labels, cumulative);
}

}  // namespace imageflex
