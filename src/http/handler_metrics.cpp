// The handler's two views of one set of counters (http/stats.h) and of the gauges read
// from its parts: /_imageflex/stats as JSON, /_imageflex/metrics for Prometheus.
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "common/allocator.h"
#include "common/log.h"
#include "common/version.h"
#include "http/handler.h"
#include "image/vips_runtime.h"

namespace imageflex {
namespace {

// When this process started, in unix seconds: the kernel's start tick (/proc/self/stat, field
// 22) after the boot time (/proc/stat btime). 0 when /proc cannot tell.
double process_start_seconds() {
  static const double started = [] {
    std::ifstream stat_file("/proc/self/stat");
    std::string line;
    std::getline(stat_file, line);
    // The command name (field 2) may hold spaces; the fields after it start past its ')'.
    std::istringstream fields(line.substr(line.rfind(')') + 2));
    std::string field;
    for (int i = 3; i <= 22 && fields >> field; ++i) {
    }
    std::ifstream proc_stat("/proc/stat");
    std::string key;
    double boot = 0;
    while (proc_stat >> key) {
      if (key == "btime") {
        proc_stat >> boot;
        break;
      }
    }
    const long ticks = ::sysconf(_SC_CLK_TCK);
    if (boot == 0 || ticks <= 0 || field.empty()) return 0.0;
    return boot + std::stod(field) / static_cast<double>(ticks);
  }();
  return started;
}

std::uint64_t load(const std::atomic<std::uint64_t>& counter) {
  return counter.load(std::memory_order_relaxed);
}

}  // namespace

void Handler::count_response(const Exchange& exchange, const Response& response) {
  stats_.count_response(static_cast<int>(response.result_int()), exchange.cache, response.body().size(),
                        std::chrono::duration<double>(Clock::now() - exchange.started).count());
}

std::string Handler::stats_json() const {
  Json stats = {
      {"requests", stats_.responses()},
      {"transforms", load(stats_.transforms)},
      {"memory_hits", load(stats_.memory_hits)},
      {"store_hits", load(stats_.store_hits)},
      {"coalesced", load(stats_.coalesced)},
      {"originals_reused", load(stats_.originals_reused)},
      {"overloaded", load(stats_.overloaded)},
      {"timeouts", load(stats_.timeouts)},
      {"store_errors", load(stats_.store_errors)},
      {"avif_deferred", load(stats_.avif_deferred)},
      {"avif_background_made", load(stats_.avif_background_made)},
      {"avif_background_skipped", load(stats_.avif_background_skipped)},
      {"avif_background_failed", load(stats_.avif_background_failed)},
      {"avif_background_running", background_.running()},
      {"queued", transforms_.queued()},
      {"running", transforms_.running()},
      {"misses_in_progress", misses_in_progress_.load()},
      {"memory_cache_bytes", memory_cache_.size_bytes()},
      {"memory_cache_entries", memory_cache_.entries()},
      {"original_cache_bytes", originals_.size_bytes()},
      {"memory_budget_bytes", admission_.budget_bytes()},
      {"memory_reserved_bytes", admission_.reserved_bytes()},
      {"memory_admitted_bytes", admission_.admitted_bytes()},
      {"admission_waiting", admission_.waiting()},
      {"memory_purges", admission_.purges()},
      {"vips_memory_bytes", vips_memory_bytes()},
      {"store_bytes_read", storage_.bytes_read()},
      {"store_bytes_written", storage_.bytes_written()},
      {"store_requests", storage_.requests()},
      {"answered_on_io_thread", load(stats_.answered_on_io_thread)},
  };
  for (const auto& [name, value] : storage_.stats()) stats[name] = value;
  return to_json(stats) + "\n";
}

std::string Handler::metrics_text() const {
  PrometheusText out;
  auto counter = [&](std::string_view name, std::string_view help, std::uint64_t value) {
    out.family(name, "counter", help);
    out.sample(name, {}, value);
  };
  auto gauge = [&](std::string_view name, std::string_view help, auto value) {
    out.family(name, "gauge", help);
    out.sample(name, {}, static_cast<double>(value));
  };

  // Requests: by status, by cache outcome, how long they took, and the bytes sent.
  out.family("imageflex_http_responses_total", "counter", "Responses sent, by HTTP status code.");
  for (std::size_t i = 0; i <= kCountedStatuses.size(); ++i) {
    const std::string code = i < kCountedStatuses.size() ? std::to_string(kCountedStatuses[i]) : "other";
    out.sample("imageflex_http_responses_total", {{"code", code}}, load(stats_.responses_by_status[i]));
  }
  out.family("imageflex_http_responses_by_cache_total", "counter",
             "Responses sent, by where the image came from (X-Cache; none for errors and endpoints).");
  for (std::size_t i = 0; i < kCacheOutcomes; ++i) {
    const auto name = cache_outcome_name(static_cast<CacheOutcome>(i));
    out.sample("imageflex_http_responses_by_cache_total", {{"cache", name.empty() ? "none" : name}},
               load(stats_.responses_by_cache[i]));
  }
  out.family("imageflex_http_request_duration_seconds", "histogram",
             "Time from reading a request to its response, by cache outcome.");
  for (std::size_t i = 0; i < kCacheOutcomes; ++i) {
    const auto name = cache_outcome_name(static_cast<CacheOutcome>(i));
    out.histogram("imageflex_http_request_duration_seconds", {{"cache", name.empty() ? "none" : name}},
                  stats_.response_seconds[i]);
  }
  counter("imageflex_http_response_body_bytes_total", "Response body bytes sent (bytes out).",
          load(stats_.response_body_bytes));

  // Transforms: how many, how long by format, and what is waiting for them.
  counter("imageflex_transforms_total", "Variants made and served.", load(stats_.transforms));
  out.family("imageflex_transform_duration_seconds", "histogram",
             "Time libvips took to make a variant (read, resize, encode), by output format.");
  for (std::size_t i = 0; i < kOutputFormats.size(); ++i) {
    out.histogram("imageflex_transform_duration_seconds", {{"format", format_name(kOutputFormats[i])}},
                  stats_.transform_seconds[i]);
  }
  counter("imageflex_memory_hits_total", "Variants served from the memory cache.", load(stats_.memory_hits));
  counter("imageflex_store_hits_total", "Variants served from the store.", load(stats_.store_hits));
  counter("imageflex_coalesced_total", "Requests that waited on another request's identical transform.",
          load(stats_.coalesced));
  counter("imageflex_originals_reused_total",
          "Transforms whose original was kept in memory from an earlier one, not read from the store again.",
          load(stats_.originals_reused));
  counter("imageflex_overloaded_total",
          "503s for a full queue, a full memory budget or a deadline passed waiting.",
          load(stats_.overloaded));
  counter("imageflex_timeouts_total", "504s: requests that passed their deadline.", load(stats_.timeouts));
  counter("imageflex_store_errors_total",
          "Requests failed, or variants not stored, because the store failed.", load(stats_.store_errors));
  counter("imageflex_answered_on_io_thread_total",
          "Requests answered on an I/O thread with no store request (trusted memory hits, refusals, "
          "health, stats, metrics).",
          load(stats_.answered_on_io_thread));
  counter("imageflex_avif_deferred_total",
          "AVIF requests over --avif-budget-ms answered with WebP while the AVIF is made in the background.",
          load(stats_.avif_deferred));
  out.family("imageflex_avif_background_total", "counter",
             "Background AVIF jobs, by outcome: made, skipped (busy), failed.");
  out.sample("imageflex_avif_background_total", {{"outcome", "made"}}, load(stats_.avif_background_made));
  out.sample("imageflex_avif_background_total", {{"outcome", "skipped"}},
             load(stats_.avif_background_skipped));
  out.sample("imageflex_avif_background_total", {{"outcome", "failed"}}, load(stats_.avif_background_failed));
  gauge("imageflex_transform_queue_depth", "Transforms waiting for a worker thread.", transforms_.queued());
  gauge("imageflex_transforms_running", "Transforms running on worker threads (jobs in flight).",
        transforms_.running());
  gauge("imageflex_misses_in_progress", "Handler threads waiting on a transform.",
        misses_in_progress_.load());
  gauge("imageflex_admission_waiting", "Transforms waiting for room in the memory budget.",
        admission_.waiting());

  // Memory: the variant cache, the transforms' budget, libvips and the process.
  gauge("imageflex_memory_cache_bytes",
        "Memory the memory cache holds: its variants as allocated, keys and bookkeeping.",
        memory_cache_.size_bytes());
  gauge("imageflex_memory_cache_entries", "Variants in the memory cache.", memory_cache_.entries());
  gauge("imageflex_memory_cache_capacity_bytes", "The memory cache's capacity (--memory-cache-mb).",
        config_.memory_cache_bytes);
  gauge("imageflex_original_cache_bytes",
        "Memory the originals kept for transforms hold (--original-cache-mb bounds it).",
        originals_.size_bytes());
  gauge("imageflex_memory_budget_bytes", "The transforms' memory budget.", admission_.budget_bytes());
  gauge("imageflex_memory_reserved_bytes",
        "What the budget sets aside before any transform: resident memory at start and the memory caches.",
        admission_.reserved_bytes());
  gauge("imageflex_memory_admitted_bytes", "Estimated memory of the transforms admitted now.",
        admission_.admitted_bytes());
  gauge("imageflex_vips_memory_bytes", "Pixel memory libvips has allocated now (vips_tracked_get_mem).",
        vips_memory_bytes());
  gauge("process_resident_memory_bytes", "Resident memory size in bytes.", resident_bytes());

  // The store: latency and failures by operation, and the bytes that crossed (bytes in).
  out.family("imageflex_store_operation_duration_seconds", "histogram",
             "Time a store call took, by operation.");
  for (const auto operation : TimedStorage::kOperations) {
    out.histogram("imageflex_store_operation_duration_seconds",
                  {{"operation", TimedStorage::operation_name(operation)}}, storage_.seconds(operation));
  }
  out.family("imageflex_store_operation_errors_total", "counter", "Store calls that failed, by operation.");
  for (const auto operation : TimedStorage::kOperations) {
    out.sample("imageflex_store_operation_errors_total",
               {{"operation", TimedStorage::operation_name(operation)}}, storage_.errors(operation));
  }
  counter("imageflex_store_read_bytes_total", "Body bytes read from the store (bytes in).",
          storage_.bytes_read());
  counter("imageflex_store_written_bytes_total", "Body bytes written to the store.",
          storage_.bytes_written());
  // The backend's own figures (the folder store's quota and sweeps), as it names them.
  for (const auto& [name, value] : storage_.stats()) {
    const std::string metric = "imageflex_" + name;
    out.family(metric, "untyped", "The store backend's own figure " + name + ".");
    out.sample(metric, {}, value);
  }

  // The process: when it started, and what it is.
  gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
        process_start_seconds());
  out.family("imageflex_build_info", "gauge", "Always 1: the version built and the environment it runs as.");
  out.sample("imageflex_build_info", {{"version", kVersion}, {"env", config_.env}}, std::uint64_t{1});
  return out.text();
}

}  // namespace imageflex
