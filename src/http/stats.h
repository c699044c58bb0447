// The service's counters: one set, written where things happen and read by both views,
// /_imageflex/stats (JSON) and /_imageflex/metrics (Prometheus), in http/handler_metrics.cpp.
// Every counter is a lock-free atomic; every histogram has fixed buckets (common/metrics.h).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

#include "common/metrics.h"
#include "image/format.h"

namespace imageflex {

// Where a response's bytes came from, sent as X-Cache and logged.
enum class CacheOutcome {
  kNone,            // no image served (errors, health, stats)
  kOriginal,        // the original's own bytes
  kHitMemory,       // a variant from the memory cache
  kHitStore,        // a variant from the store
  kHitRevalidated,  // a 304 for a variant the client holds
  kMiss,            // a variant made for this request
  kMissCoalesced,   // a variant made for another request that asked at the same time
};
inline constexpr std::size_t kCacheOutcomes = 7;
std::string_view cache_outcome_name(CacheOutcome outcome);  // "" for kNone

// The statuses the service answers with, each its own series; anything else counts as "other".
inline constexpr std::array<int, 13> kCountedStatuses{200, 304, 400, 403, 404, 405, 413,
                                                      414, 415, 422, 500, 503, 504};
// The formats a variant may be made in: the transform histograms' label values.
inline constexpr std::array kOutputFormats{Format::kJpeg, Format::kPng, Format::kWebp, Format::kAvif,
                                           Format::kGif};

struct Stats {
  std::atomic<std::uint64_t> transforms{0};  // variants made (encoder runs) and served
  std::atomic<std::uint64_t> memory_hits{0};
  std::atomic<std::uint64_t> store_hits{0};
  std::atomic<std::uint64_t> coalesced{0};         // requests that waited on another's transform
  std::atomic<std::uint64_t> originals_reused{0};  // transforms of an original kept in memory, not read again
  std::atomic<std::uint64_t> overloaded{
      0};  // 503: a full queue, a deadline passed in it, or no room in the memory budget
  std::atomic<std::uint64_t> timeouts{0};  // 504
  std::atomic<std::uint64_t> store_errors{0};
  // AVIF over --avif-budget-ms (http/avif_stand_in.cpp): WebP served in its place, and the
  // AVIF made in the background, skipped when busy, or failed there.
  std::atomic<std::uint64_t> answered_on_io_thread{0};  // by try_answer_fast(): no handler thread hop
  std::atomic<std::uint64_t> avif_deferred{0};
  std::atomic<std::uint64_t> avif_background_made{0};
  std::atomic<std::uint64_t> avif_background_skipped{0};
  std::atomic<std::uint64_t> avif_background_failed{0};

  // Every response the handler sends (images, errors, health, stats, the I/O threads' 503s).
  std::array<std::atomic<std::uint64_t>, kCountedStatuses.size() + 1> responses_by_status{};  // last: other
  std::array<std::atomic<std::uint64_t>, kCacheOutcomes> responses_by_cache{};
  std::array<Histogram, kCacheOutcomes> response_seconds =
      make_histograms<kCacheOutcomes>(kRequestSecondsBounds);
  std::atomic<std::uint64_t> response_body_bytes{0};
  // The time libvips took to make each variant (decode, transform, encode), by format made.
  std::array<Histogram, kOutputFormats.size()> transform_seconds =
      make_histograms<kOutputFormats.size()>(kTransformSecondsBounds);

  void count_response(int status, CacheOutcome cache, std::uint64_t body_bytes, double seconds);
  void count_transform(Format format, double seconds);
  std::uint64_t responses() const;  // all of them, whatever the status
};

}  // namespace imageflex
