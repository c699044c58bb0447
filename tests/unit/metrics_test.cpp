// The metric primitives: fixed buckets with inclusive upper bounds, and the text format's
// escaping and histogram series.
#include "common/metrics.h"

#include <gtest/gtest.h>

#include <array>

namespace imageflex {
namespace {

constexpr std::array<double, 3> kBounds{0.1, 1, 10};

TEST(HistogramTest, AValueOnABoundCountsInThatBucket) {
  Histogram histogram(kBounds);
  for (double value : {0.05, 0.1, 0.5, 1.0, 10.0, 11.0, 1e9}) histogram.observe(value);
  EXPECT_EQ(histogram.bucket_counts(), (std::vector<std::uint64_t>{2, 2, 1, 2}));
  EXPECT_DOUBLE_EQ(histogram.sum(), 0.05 + 0.1 + 0.5 + 1.0 + 10.0 + 11.0 + 1e9);
}

TEST(PrometheusTextTest, HistogramSeriesAreCumulativeWithInfAndCount) {
  Histogram histogram(kBounds);
  for (double value : {0.05, 0.5, 20.0}) histogram.observe(value);
  PrometheusText out;
  out.family("x_seconds", "histogram", "A test.");
  out.histogram("x_seconds", {{"op", "get"}}, histogram);
  EXPECT_EQ(out.text(),
            "# HELP x_seconds A test.\n"
            "# TYPE x_seconds histogram\n"
            "x_seconds_bucket{op=\"get\",le=\"0.1\"} 1\n"
            "x_seconds_bucket{op=\"get\",le=\"1\"} 2\n"
            "x_seconds_bucket{op=\"get\",le=\"10\"} 2\n"
            "x_seconds_bucket{op=\"get\",le=\"+Inf\"} 3\n"
            "x_seconds_sum{op=\"get\"} 20.55\n"
            "x_seconds_count{op=\"get\"} 3\n");
}

TEST(PrometheusTextTest, LabelValuesEscapeQuotesBackslashesAndNewlines) {
  PrometheusText out;
  out.sample("x_total", {{"a", "say \"hi\"\\\n"}}, std::uint64_t{7});
  out.sample("y", {}, 0.25);
  EXPECT_EQ(out.text(), "x_total{a=\"say \\\"hi\\\"\\\\\\n\"} 7\ny 0.25\n");
}

}  // namespace
}  // namespace imageflex
