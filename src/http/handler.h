// The image handler: the one place that orchestrates a request, from URL to
// response. Blocking; runs on a handler thread, never on an I/O thread.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>

#include "cache/memory_cache.h"
#include "cache/probe_cache.h"
#include "cache/single_flight.h"
#include "common/config.h"
#include "common/error.h"
#include "http/admission.h"
#include "http/responses.h"
#include "http/worker_pool.h"
#include "negotiate/accept.h"
#include "request/image_request.h"
#include "storage/storage.h"

namespace imageflex {

inline constexpr std::string_view kHealthPath = "/_imageflex/health";
inline constexpr std::string_view kStatsPath = "/_imageflex/stats";

// Counters exposed at kStatsPath (and used by tests to prove single flight).
struct Stats {
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> transforms{0};  // variants made (encoder runs)
  std::atomic<std::uint64_t> memory_hits{0};
  std::atomic<std::uint64_t> store_hits{0};
  std::atomic<std::uint64_t> coalesced{0};  // requests that waited on another's transform
  std::atomic<std::uint64_t> overloaded{
      0};  // 503: a full queue, a deadline passed in it, or no room in the memory budget
  std::atomic<std::uint64_t> timeouts{0};  // 504
  std::atomic<std::uint64_t> store_errors{0};
  // AVIF over --avif-budget-ms (http/avif_stand_in.cpp): WebP served in its place, and the
  // AVIF made in the background, skipped when busy, or failed there.
  std::atomic<std::uint64_t> avif_deferred{0};
  std::atomic<std::uint64_t> avif_background_made{0};
  std::atomic<std::uint64_t> avif_background_skipped{0};
  std::atomic<std::uint64_t> avif_background_failed{0};
};

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
std::string_view cache_outcome_name(CacheOutcome outcome);  // "" for kNone

// Thread-safe: any number of threads may call handle() and overloaded() at once.
// The storage passed in must be thread-safe too (every Storage is).
class Handler {
 public:
  using Clock = std::chrono::steady_clock;

  Handler(const Config& config, Storage& storage);
  ~Handler();

  // Never throws: every failure becomes a status with a short plain-text reason.
  // `deadline_cap` (a Lambda invocation's end, say) can only shorten the configured deadline.
  // `received` is when the request was read: the deadline and the logged duration count
  // from it, so time spent waiting for a handler thread is part of both. A request that
  // waited past its deadline gets a 503 at once, without any work done.
  Response handle(const Request& request, std::optional<Clock::time_point> deadline_cap = std::nullopt,
                  Clock::time_point received = Clock::now());

  // Health and stats, answered at once (never blocks: no storage, no transform), so an
  // I/O thread can answer them without queueing them behind images. Nothing for other paths.
  std::optional<Response> answer_service_path(const Request& request, Clock::time_point received);

  // The 503 an I/O thread sends when even the handler queue is full (or the server is
  // shutting down: `reason` says so).
  Response overloaded(const Request& request, Clock::time_point received = Clock::now(),
                      std::string_view reason = "server busy; retry shortly");

  const Stats& stats() const { return stats_; }

 private:
  using VariantPtr = std::shared_ptr<const CachedVariant>;

  // One request's life: what was asked, when it started, when it must be answered,
  // and what the cache did for it.
  struct Exchange {
    const Request& request;
    Clock::time_point started;
    Clock::time_point deadline;
    CacheOutcome cache = CacheOutcome::kNone;
  };

  Response route(Exchange& exchange);
  Response serve_original(Exchange& exchange, const ImageRequest& image);
  Response serve_variant(Exchange& exchange, const ImageRequest& image);
  ProbeCache::Entry probe_original(const std::string& key, const ObjectInfo& original);
  VariantPtr find_variant(Exchange& exchange, const std::string& key);
  // `variant` is normalised (request/normalise.h): its format is the one served.
  VariantPtr make_variant_once(Exchange& exchange, const ImageRequest& variant,
                               const ProbeCache::Entry& probed, const ObjectInfo& original,
                               const std::string& key);
  VariantPtr produce_variant(const Exchange& exchange, const ImageRequest& variant,
                             const ProbeCache::Entry& probed, const ObjectInfo& original,
                             const std::string& key);
  // An AVIF over the budget (negotiate/avif_budget.h): the stand-in now, the AVIF later.
  Response serve_stand_in(Exchange& exchange, const ImageRequest& avif, Format now,
                          const ProbeCache::Entry& probed, const ObjectInfo& original);
  void make_in_background(const ImageRequest& variant, const ProbeCache::Entry& probed,
                          const ObjectInfo& original, const std::string& key);
  void store_variant(const std::string& key, const CachedVariant& variant, const std::string& source_etag);
  std::string stats_json() const;
  void log_access(const Exchange& exchange, const Response& response);

  const Config config_;
  Storage& storage_;
  MemoryCache memory_cache_;
  ProbeCache probes_;
  Admission admission_;                     // before transforms_: the jobs hold its tickets
  const int miss_threads_;                  // handler threads that may wait on transforms at once
  std::atomic<int> misses_in_progress_{0};  // those waiting now
  SingleFlight<VariantPtr> flights_;
  Stats stats_;
  WorkerPool transforms_;  // its threads stop before the rest is destroyed
  WorkerPool background_;  // one thread, no queue: deferred AVIFs, at most one at a time
};

}  // namespace imageflex
