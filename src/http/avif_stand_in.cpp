// AVIF that never makes a browser wait (negotiate/avif_budget.h): the handler's two steps
// for an AVIF over --avif-budget-ms, kept apart from the request's main line in handler.cpp.
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "http/conditional.h"
#include "http/handler.h"
#include "image/cost.h"
#include "negotiate/avif_budget.h"
#include "request/key.h"
#include "variant/make_variant.h"

namespace imageflex {
namespace {

// The background thread yields the cores to foreground transforms: Linux applies a nice
// value to the one thread named.
void lower_this_threads_priority() {
  setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 10);
}

}  // namespace

// The stand-in (WebP) as any request for it is served, but kept briefly by caches, since
// the AVIF will replace it; then the AVIF is started in the background.
Response Handler::serve_stand_in(Exchange& exchange, const ImageRequest& avif, Format now,
                                 const ProbeCache::Entry& probed, const ObjectInfo& original) {
  stats_.avif_deferred++;
  ImageRequest stand_in = avif;
  stand_in.format = now;  // the key a client negotiating WebP gets: one variant for both
  const std::string key = variant_key(stand_in, original.etag, {}, config_.quality);
  VariantPtr variant = find_variant(exchange, key, original);
  if (!variant) variant = make_variant_once(exchange, stand_in, probed, original, key);
  // After our own miss, so the AVIF does not compete with the bytes the browser waits for.
  make_in_background(avif, probed, original, variant_key(avif, original.etag, {}, config_.quality));

  const bool held =
      parse_if_none_match(header(exchange.request, http::field::if_none_match)).matches(variant->etag);
  Response response =
      image_response(exchange.request, held, variant_body(variant), variant->content_type, variant->etag,
                     variant->last_modified, "public, max-age=" + std::to_string(kStandInMaxAgeSeconds));
  response.set(http::field::vary, "Accept");
  return response;
}

// Bounded so it never starves foreground requests: one job at a time on its own low-priority
// thread, none queued, skipped while foreground transforms wait in their queue or the memory
// budget is full. A skipped AVIF is asked for again by the next request that defers it.
void Handler::make_in_background(const ImageRequest& variant, const ProbeCache::Entry& probed,
                                 const ObjectInfo& original, const std::string& key) {
  std::shared_ptr<Admission::Ticket> admitted;
  if (transforms_.queued() == 0) {
    try {
      const Plan plan = plan_geometry(probed.source.size, variant.geometry);
      // A deadline of now: room in the memory budget at once, or no background job.
      admitted =
          admission_.admit(estimate_memory(probed.source, probed.size, plan, *variant.format), Clock::now());
    } catch (const Error&) {
      admitted = nullptr;
    }
  }
  const bool taken = admitted && background_.try_submit([this, variant, original, key, admitted] {
    lower_this_threads_priority();
    try {
      // Most often the stand-in's transform has just read it: kept in originals_.
      const VariantPtr source = read_original(variant.key, original, false);
      const auto deadline = Clock::now() + std::chrono::milliseconds(config_.limits.deadline_ms);
      Encoded encoded = make_variant(source->bytes, variant, {}, config_.limits, config_.quality, deadline);
      auto made = std::make_shared<CachedVariant>(CachedVariant{std::move(encoded.bytes),
                                                                std::string(mime_type(encoded.format)),
                                                                variant_etag(key), source->last_modified});
      // Counted, then in memory, then stored: a request that finds the AVIF finds it counted,
      // and one that arrives during the store write is a memory hit, not a store hit
      // (AvifBudgetServerTest polls for the AVIF and then checks both).
      stats_.transforms++;
      stats_.avif_background_made++;
      memory_cache_.put(key, made);
      store_variant(key, *made, original.etag);
    } catch (const std::exception& error) {
      stats_.avif_background_failed++;
      log_event("warn", std::string("background AVIF not made: ") + error.what());
    }
  });
  if (!taken) stats_.avif_background_skipped++;
}

}  // namespace imageflex
