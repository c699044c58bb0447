// The image handler: the one place that orchestrates a request, from URL to
// response. handle() blocks and runs on a handler thread; try_answer_fast() never blocks
// and runs on an I/O thread, answering what needs no store or transform (hits whose
// original's version is trusted, health, stats) and leaving the rest to handle().
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>

#include "cache/memory_cache.h"
#include "cache/probe_cache.h"
#include "cache/single_flight.h"
#include "cache/trusted_versions.h"
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

  // The answer, when it needs no blocking work (no store request, no transform): health,
  // stats, refusals of bad URLs, and variants in the memory cache whose original's version
  // is trusted (--trust-version-ms). Nothing otherwise: then handle() must answer on a
  // handler thread. Never blocks, so an I/O thread answers these without queueing them
  // behind images.
  std::optional<Response> try_answer_fast(const Request& request, Clock::time_point received);

  // The 503 an I/O thread sends when even the handler queue is full (or the server is
  // shutting down: `reason` says so).
  Response overloaded(const Request& request, Clock::time_point received = Clock::now(),
                      std::string_view reason = "server busy; retry shortly");

  const Stats& stats() const { return stats_; }

 private:
  using VariantPtr = std::shared_ptr<const CachedVariant>;

  // One request's life: what was asked, when it started, when it must be answered,
  // what the cache did for it, and whether it may block (false on an I/O thread).
  struct Exchange {
    const Request& request;
    Clock::time_point started;
    Clock::time_point deadline;
    CacheOutcome cache = CacheOutcome::kNone;
    bool may_block = true;
    bool version_asked = false;  // the original's version came from the store now, not the trusted window
  };

  // Thrown where an exchange that may not block reaches a step that would.
  struct NeedsHandlerThread {};
  static void before_blocking(const Exchange& exchange) {
    if (!exchange.may_block) throw NeedsHandlerThread{};
  }

  std::optional<Response> answer(Exchange& exchange);  // nothing: it needs a handler thread
  Response route(Exchange& exchange);
  Response serve_original(Exchange& exchange, const ImageRequest& image);
  Response serve_variant(Exchange& exchange, const ImageRequest& image);
  Response serve_version(Exchange& exchange, const ImageRequest& image, const ObjectInfo& original);
  ProbeCache::Entry probe_original(const Exchange& exchange, const std::string& key,
                                   const ObjectInfo& original);
  VariantPtr find_variant(Exchange& exchange, const std::string& key, const ObjectInfo& original);
  // `variant` is normalised (request/normalise.h): its format is the one served.
  VariantPtr make_variant_once(Exchange& exchange, const ImageRequest& variant,
                               const ProbeCache::Entry& probed, const ObjectInfo& original,
                               const std::string& key);
  VariantPtr produce_variant(const Exchange& exchange, const ImageRequest& variant,
                             const ProbeCache::Entry& probed, const ObjectInfo& original,
                             const std::string& key);
  // The original's bytes at the version `original` names, from originals_ or the store. Kept
  // bytes are used only once the store has said that version is still current (`asked`, or a
  // stat now), so a miss inside the trust window finds a replaced original as a read would.
  VariantPtr read_original(const std::string& key, const ObjectInfo& original, bool asked);
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
  // Originals lately read for transforms (--original-cache-mb), keyed by key and version: the
  // misses a page makes of one picture (its srcset's widths, in the formats browsers take)
  // read it from the store once. Kept as variants are (bytes, type, Last-Modified; no ETag).
  MemoryCache originals_;
  ProbeCache probes_;
  TrustedVersions versions_;                // originals' versions, trusted for --trust-version-ms
  Admission admission_;                     // before transforms_: the jobs hold its tickets
  const int miss_threads_;                  // handler threads that may wait on transforms at once
  std::atomic<int> misses_in_progress_{0};  // those waiting now
  SingleFlight<VariantPtr> flights_;
  Stats stats_;
  WorkerPool transforms_;  // its threads stop before the rest is destroyed
  WorkerPool background_;  // one thread, no queue: deferred AVIFs, at most one at a time
};

}  // namespace imageflex
