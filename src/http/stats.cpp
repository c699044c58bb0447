#include "http/stats.h"

#include <algorithm>

namespace imageflex {

void Stats::count_response(int status, CacheOutcome cache, std::uint64_t body_bytes, double seconds) {
  const auto found = std::find(kCountedStatuses.begin(), kCountedStatuses.end(), status);
  responses_by_status[static_cast<std::size_t>(found - kCountedStatuses.begin())].fetch_add(
      1, std::memory_order_relaxed);  // not found: the last slot, "other"
  const auto outcome = static_cast<std::size_t>(cache);
  responses_by_cache[outcome].fetch_add(1, std::memory_order_relaxed);
  response_seconds[outcome].observe(seconds);
  response_body_bytes.fetch_add(body_bytes, std::memory_order_relaxed);
}

void Stats::count_transform(Format format, double seconds) {
  const auto found = std::find(kOutputFormats.begin(), kOutputFormats.end(), format);
  if (found != kOutputFormats.end()) {
    transform_seconds[static_cast<std::size_t>(found - kOutputFormats.begin())].observe(seconds);
  }
}

std::uint64_t Stats::responses() const {
  std::uint64_t total = 0;
  for (const auto& count : responses_by_status) total += count.load(std::memory_order_relaxed);
  return total;
}

}  // namespace imageflex
