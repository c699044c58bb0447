#include "warm/warm.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "common/text.h"
#include "http/handler.h"
#include "request/url_guards.h"
#include "storage/sigv4.h"

namespace imageflex {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kListPage = 1000;
constexpr int kBusyRetries = 50;  // a 503 (queue or memory budget full) is retried, not a failure
constexpr auto kBusyPause = std::chrono::milliseconds(100);
constexpr std::size_t kFailuresShown = 20;

// Counts shared by the request threads and the progress printer.
struct Progress {
  std::mutex mutex;
  std::condition_variable finished;
  WarmSummary summary;
  std::size_t done = 0;
  bool over = false;
};

std::string one_line(std::string_view text) {
  std::string line(trim(text));
  std::replace(line.begin(), line.end(), '\n', ' ');
  return line.substr(0, 200);
}

std::string format_duration(double seconds) {
  const long s = std::lround(seconds);
  if (s < 60) return std::to_string(s) + " s";
  return std::to_string(s / 60) + " min " + std::to_string(s % 60) + " s";
}

std::string progress_text(std::size_t done, std::size_t total, double elapsed) {
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
  char text[128];
  std::snprintf(text, sizeof text, "%zu/%zu, %.1f/s, ETA %s", done, total, rate,
                rate > 0 ? format_duration(static_cast<double>(total - done) / rate).c_str() : "?");
  return text;
}

// Redraws a bar on a terminal; otherwise writes a plain line every few seconds.
void show_progress(Progress& progress, Clock::time_point start) {
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  const auto interval = tty ? std::chrono::milliseconds(200) : std::chrono::milliseconds(2000);
  std::size_t shown = SIZE_MAX;
  std::unique_lock lock(progress.mutex);
  for (;;) {
    const bool over = progress.finished.wait_for(lock, interval, [&] { return progress.over; });
    const std::size_t done = progress.done;
    const std::size_t total = progress.summary.total;
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    if (tty) {
      constexpr std::size_t kWidth = 30;
      const std::size_t filled = total > 0 ? done * kWidth / total : kWidth;
      std::fprintf(stderr, "\r[%s%s] %s   ", std::string(filled, '#').c_str(),
                   std::string(kWidth - filled, '.').c_str(), progress_text(done, total, elapsed).c_str());
      if (over) std::fprintf(stderr, "\n");
    } else if (done != shown) {
      std::fprintf(stderr, "warm: %s\n", progress_text(done, total, elapsed).c_str());
      shown = done;
    }
    std::fflush(stderr);
    if (over) return;
  }
}

}  // namespace

std::vector<std::string> warm_variants(const std::vector<int>& widths,
                                       const std::vector<std::string>& formats) {
  std::vector<std::string> width_parts;
  width_parts.reserve(widths.size() + 1);
  for (int w : widths) width_parts.push_back("w=" + std::to_string(w));
  if (width_parts.empty()) width_parts.emplace_back();
  std::vector<std::string> format_parts;
  format_parts.reserve(formats.size() + 1);
  for (const auto& f : formats) format_parts.push_back("f=" + f);
  if (format_parts.empty()) format_parts.emplace_back();
  std::vector<std::string> variants;
  variants.reserve(width_parts.size() * format_parts.size());
  for (const auto& w : width_parts) {
    for (const auto& f : format_parts) {
      std::string variant = w;
      if (!w.empty() && !f.empty()) variant += '&';
      variant += f;
      variants.push_back(std::move(variant));
    }
  }
  return variants;
}

std::vector<std::string> parse_manifest(const std::string& text) {
  std::vector<std::string> keys;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    std::string_view line = trim(std::string_view(text).substr(start, end - start));
    start = end + 1;
    if (line.empty() || line.front() == '#') continue;
    if (line.front() == '/') line.remove_prefix(1);
    keys.emplace_back(line);
  }
  return keys;
}

std::vector<std::string> list_originals(Storage& storage, const std::string& prefix) {
  std::vector<std::string> keys;
  std::string next;
  do {
    ListPage page = storage.list(prefix, next, kListPage);
    keys.insert(keys.end(), page.keys.begin(), page.keys.end());
    next = page.next;
  } while (!next.empty());
  return keys;
}

WarmSummary run_warm(const Config& config, Storage& storage, const WarmPlan& plan,
                     const std::atomic<bool>& stop) {
  // The server's handler, without its memory cache (nothing is served twice here) or access log.
  Config warm_config = config;
  warm_config.memory_cache_bytes = 0;
  warm_config.access_log = false;
  Handler handler(warm_config, storage);

  // Every key × every variant, as the URL a client would send (signed when the service signs).
  std::vector<std::string> targets;
  for (const auto& key : plan.keys) {
    for (const auto& variant : plan.variants) {
      std::string target = "/" + uri_encode(key, false) + (variant.empty() ? "" : "?" + variant);
      const auto& keys = config.url_guards.signing.keys;
      if (!keys.empty()) {
        try {
          target = sign_target(target, keys.front(), std::nullopt, config.limits.max_output_dimension);
        } catch (const Error&) {
          // A target that cannot be signed is refused below with the server's own reason.
        }
      }
      targets.push_back(std::move(target));
    }
  }

  // At most as many at once as the handler lets wait on transforms (beyond that it says 503).
  const int miss_threads =
      config.miss_threads > 0 ? config.miss_threads : std::max(1, config.handler_threads / 2);
  const int parallel = std::clamp(plan.parallel > 0 ? plan.parallel : config.workers, 1, miss_threads);

  std::fprintf(stderr, "warm: %zu variants (%zu originals x %zu), %d at once\n", targets.size(),
               plan.keys.size(), plan.variants.size(), parallel);
  Progress progress;
  progress.summary.total = targets.size();
  const auto start = Clock::now();
  std::thread printer(show_progress, std::ref(progress), start);
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (;;) {
      if (stop.load()) return;
      const std::size_t index = next.fetch_add(1);
      if (index >= targets.size()) return;
      Request request{http::verb::get, targets[index], 11};
      Response response;
      for (int attempt = 0;; ++attempt) {
        response = handler.handle(request);
        if (response.result() != http::status::service_unavailable || attempt == kBusyRetries || stop.load())
          break;
        std::this_thread::sleep_for(kBusyPause);
      }
      const auto x_cache = response.find("X-Cache");
      const std::string outcome = x_cache == response.end() ? "" : std::string(x_cache->value());
      std::lock_guard lock(progress.mutex);
      ++progress.done;
      if (response.result() != http::status::ok) {
        progress.summary.failed.push_back({targets[index], std::to_string(response.result_int()) + " " +
                                                               one_line(response.body().to_string())});
      } else if (outcome == "miss" || outcome == "miss-coalesced") {
        ++progress.summary.made;
      } else {
        ++progress.summary.already;  // hit-store (or an original: nothing to make)
      }
    }
  };
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(parallel));
  for (int i = 0; i < parallel; ++i) threads.emplace_back(work);
  for (auto& thread : threads) thread.join();
  {
    std::lock_guard lock(progress.mutex);
    progress.over = true;
  }
  progress.finished.notify_all();
  printer.join();

  WarmSummary summary = std::move(progress.summary);
  summary.not_started = summary.total - progress.done;
  summary.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(summary.failed.begin(), summary.failed.end(),
            [](const auto& a, const auto& b) { return a.target < b.target; });
  return summary;
}

std::string format_summary(const WarmSummary& summary) {
  std::string out = "warm: " + std::to_string(summary.total) + " variants: " + std::to_string(summary.made) +
                    " made, " + std::to_string(summary.already) + " already there, " +
                    std::to_string(summary.failed.size()) + " failed";
  if (summary.not_started > 0)
    out += ", " + std::to_string(summary.not_started) + " not started (interrupted)";
  out += " in " + format_duration(summary.seconds) + "\n";
  for (std::size_t i = 0; i < summary.failed.size() && i < kFailuresShown; ++i) {
    out += "failed: " + summary.failed[i].target + ": " + summary.failed[i].reason + "\n";
  }
  if (summary.failed.size() > kFailuresShown) {
    out += "failed: ... and " + std::to_string(summary.failed.size() - kFailuresShown) + " more\n";
  }
  return out;
}

}  // namespace imageflex
