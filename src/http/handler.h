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
#include "http/stats.h"
#include "http/worker_pool.h"
#include "negotiate/accept.h"
#include "request/image_request.h"
#include "storage/storage.h"
#include "storage/timed_storage.h"

namespace imageflex {

inline constexpr std::string_view kHealthPath = "/_imageflex/health";
inline constexpr std::string_view kStatsPath = "/_imageflex/stats";
inline constexpr std::string_view kMetricsPath = "/_imageflex/metrics";  // Prometheus

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

  // Health, stats and metrics, answered at once (never blocks: no storage, no transform), so an
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
  std::string stats_json() const;    // the counters as JSON (handler_metrics.cpp)
  std::string metrics_text() const;  // the same, and more, for Prometheus (handler_metrics.cpp)
  void count_response(const Exchange& exchange, const Response& response);  // handler_metrics.cpp
  void log_access(const Exchange& exchange, const Response& response);

  const Config config_;
  TimedStorage storage_;  // the store given, timed by operation for the metrics
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
