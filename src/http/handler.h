// The image handler: the one place that orchestrates a request, from URL to
// response. Blocking; runs on a handler thread, never on an I/O thread.
#pragma once

#include <boost/beast/http.hpp>

#include <atomic>
#include <chrono>
#include <memory>

#include "cache/memory_cache.h"
#include "cache/single_flight.h"
#include "cache/worker_pool.h"
#include "common/config.h"
#include "common/error.h"
#include "negotiate/accept.h"
#include "request/image_request.h"
#include "storage/storage.h"

namespace imageflex {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

inline constexpr std::string_view kHealthPath = "/_imageflex/health";
inline constexpr std::string_view kStatsPath = "/_imageflex/stats";

// Counters exposed at kStatsPath (and used by tests to prove single flight).
struct Stats {
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> transforms{0};  // variants made (encoder runs)
  std::atomic<std::uint64_t> memory_hits{0};
  std::atomic<std::uint64_t> store_hits{0};
  std::atomic<std::uint64_t> coalesced{0};   // requests that waited on another's transform
  std::atomic<std::uint64_t> overloaded{0};  // 503 for a full queue
  std::atomic<std::uint64_t> timeouts{0};    // 504
  std::atomic<std::uint64_t> store_errors{0};
};

class Handler {
 public:
  Handler(const Config& config, Storage& storage);
  ~Handler();

  // Never throws: every failure becomes a status with a short plain-text reason.
  Response handle(const Request& request);
  // The same, with the request's deadline no later than `deadline_cap` (a Lambda invocation's).
  Response handle(const Request& request, std::chrono::steady_clock::time_point deadline_cap);

  // The 503 an I/O thread sends when even the handler queue is full.
  Response overloaded(const Request& request);

  const Stats& stats() const { return stats_; }

 private:
  using VariantPtr = std::shared_ptr<const CachedVariant>;
  using Clock = std::chrono::steady_clock;

  Response route(const Request& request, Clock::time_point deadline, std::string& cache_outcome);
  Response serve_original(const Request& request, const ImageRequest& image, std::string& cache_outcome);
  VariantPtr find_variant(const std::string& key, std::string& cache_outcome);
  VariantPtr make_variant(const ImageRequest& image, const AcceptedFormats& accepted, const std::string& key,
                          Clock::time_point deadline, std::string& cache_outcome);
  VariantPtr produce_variant(const ImageRequest& image, const AcceptedFormats& accepted,
                             const std::string& key, Clock::time_point deadline);
  std::string stats_json() const;
  Response error_response(const Request& request, const Error& error);
  void log_access(const Request& request, const Response& response, Clock::time_point started,
                  const std::string& cache_outcome);

  const Config config_;
  Storage& storage_;
  MemoryCache memory_cache_;
  SingleFlight<VariantPtr> flights_;
  Stats stats_;
  WorkerPool transforms_;  // last: its threads stop before the rest is destroyed
};

}  // namespace imageflex
