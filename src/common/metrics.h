// Lock-free metric primitives and the Prometheus text exposition format
// (https://prometheus.io/docs/instrumenting/exposition_formats/). Counters are plain
// std::atomic<std::uint64_t>; a Histogram has fixed buckets chosen when it is made.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace imageflex {

// A distribution of observations (seconds, bytes) over fixed upper bounds. observe() is
// wait-free: one relaxed increment of a bucket and one of the sum.
class Histogram {
 public:
  static constexpr std::size_t kMaxBounds = 16;
  explicit Histogram(std::span<const double> bounds);  // ascending; at most kMaxBounds

  void observe(double value);
  std::span<const double> bounds() const { return bounds_; }
  // Observations in each bucket (not cumulative), the last one beyond every bound.
  std::vector<std::uint64_t> bucket_counts() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }
  std::uint64_t count() const;  // observations in all buckets

 private:
  std::span<const double> bounds_;
  std::array<std::atomic<std::uint64_t>, kMaxBounds + 1> counts_{};
  std::atomic<double> sum_{0};
};

// Bucket bounds, in seconds, for the three kinds of wait the service measures.
inline constexpr std::array<double, 13> kRequestSecondsBounds{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                              0.25,  0.5,    1,     2.5,  5,     10};
inline constexpr std::array<double, 12> kTransformSecondsBounds{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                                0.5,   1,    2.5,   5,    10,  30};
inline constexpr std::array<double, 13> kStoreSecondsBounds{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                            0.1,    0.25,  0.5,    1,     2.5,  5};

// N histograms over the same bounds (one per label value), each made in place.
template <std::size_t N>
std::array<Histogram, N> make_histograms(std::span<const double> bounds) {
  return [&]<std::size_t... I>(std::index_sequence<I...>) {
    return std::array<Histogram, N>{{((void)I, Histogram(bounds))...}};
  }
  (std::make_index_sequence<N>{});
}

// The content type of the text exposition format, version 0.0.4.
inline constexpr std::string_view kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

// Writes one exposition: each family once (HELP, TYPE), then its samples.
class PrometheusText {
 public:
  // type: "counter", "gauge" or "histogram". Call before the family's samples.
  void family(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, Labels labels, double value);
  void sample(std::string_view name, Labels labels, std::uint64_t value);
  // The _bucket (cumulative, with le="+Inf"), _sum and _count samples of one labelled series.
  void histogram(std::string_view name, Labels labels, const Histogram& histogram);
  const std::string& text() const { return text_; }

 private:
  void series(std::string_view name, Labels labels, std::string_view extra_label = {},
              std::string_view extra_value = {});
  std::string text_;
};

}  // namespace imageflex
