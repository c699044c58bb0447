#include "http/handler.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <future>

#include "common/allocator.h"
#include "common/log.h"
#include "common/text.h"
#include "http/conditional.h"
#include "http/playground.h"
#include "image/cost.h"
#include "negotiate/avif_budget.h"
#include "request/key.h"
#include "request/normalise.h"
#include "request/url_guards.h"
#include "variant/make_variant.h"

namespace imageflex {
namespace {

// Holds one of a bounded number of places, or refuses at once (503).
class CountedPlace {
 public:
  CountedPlace(std::atomic<int>& count, int limit) : count_(count) {
    if (count_.fetch_add(1) >= limit) {
      count_.fetch_sub(1);
      throw Error(ErrorKind::kOverloaded, "too many images being made; retry shortly");
    }
  }
  ~CountedPlace() { count_.fetch_sub(1); }
  CountedPlace(const CountedPlace&) = delete;
  CountedPlace& operator=(const CountedPlace&) = delete;

 private:
  std::atomic<int>& count_;
};

// Waits for a transform until the request's deadline; past it, a 504.
template <typename Future>
void wait_until_deadline(const Future& future, std::chrono::steady_clock::time_point deadline) {
  if (future.wait_until(deadline) == std::future_status::timeout) {
    throw Error(ErrorKind::kTimeout, "image took longer than the deadline");
  }
}

// A store answer that is not the object's bytes, as the client should hear it.
void throw_unless_ok(GetStatus status) {
  switch (status) {
    case GetStatus::kOk:
    case GetStatus::kNotModified: return;
    case GetStatus::kNotFound: throw Error(ErrorKind::kNotFound, "no such image");
    case GetStatus::kTooLarge: throw Error(ErrorKind::kTooLarge, "image is larger than the source limit");
    // Reads set If-Match only to pin the original's version a variant key names.
    case GetStatus::kPreconditionFailed:
      throw Error(ErrorKind::kSourceChanged, "image changed while being read; retry");
  }
}

// Probe results kept: a few hundred bytes each, so the hot originals of a busy node fit.
constexpr std::size_t kProbeCacheEntries = 4096;
// Originals whose versions are trusted at once: about a hundred bytes each.
constexpr std::size_t kTrustedVersionEntries = 16384;

}  // namespace

std::string_view cache_outcome_name(CacheOutcome outcome) {
  switch (outcome) {
    case CacheOutcome::kNone: return "";
    case CacheOutcome::kOriginal: return "original";
    case CacheOutcome::kHitMemory: return "hit-memory";
    case CacheOutcome::kHitStore: return "hit-store";
    case CacheOutcome::kHitRevalidated: return "hit-revalidated";
    case CacheOutcome::kMiss: return "miss";
    case CacheOutcome::kMissCoalesced: return "miss-coalesced";
  }
  return "";
}

Handler::Handler(const Config& config, Storage& storage)
    : config_(config),
      storage_(storage),
      memory_cache_(config.memory_cache_bytes),
      originals_(config.original_cache_bytes),
      probes_(kProbeCacheEntries),
      versions_(std::chrono::milliseconds(config.trust_version_ms), kTrustedVersionEntries),
      admission_(config.memory_budget_bytes > 0
                     ? config.memory_budget_bytes
                     : default_memory_budget(config.memory_cache_bytes + config.original_cache_bytes),
                 static_cast<std::size_t>(config.queue),
                 // The budget bounds the process: what it holds at start and in the memory
                 // caches is reserved, and resident memory is checked beside the estimates.
                 {.reserved =
                      [this, at_start = resident_bytes()] {
                        return at_start + memory_cache_.size_bytes() + originals_.size_bytes();
                      },
                  .resident = resident_bytes,
                  .release_free_memory = release_free_memory,
                  .kept = free_memory_kept}),
      miss_threads_(config.miss_threads > 0 ? config.miss_threads : std::max(1, config.handler_threads / 2)),
      transforms_(config.workers, static_cast<std::size_t>(config.queue), end_vips_job, "if-transform"),
      background_(1, 0, end_vips_job, "if-background") {}

Handler::~Handler() = default;

Response Handler::handle(const Request& request, std::optional<Clock::time_point> deadline_cap,
                         Clock::time_point received) {
  auto deadline = received + std::chrono::milliseconds(config_.limits.deadline_ms);
  if (deadline_cap && *deadline_cap < deadline) deadline = *deadline_cap;
  Exchange exchange{request, received, deadline};
  return *answer(exchange);  // an exchange that may block always has an answer
}

std::optional<Response> Handler::try_answer_fast(const Request& request, Clock::time_point received) {
  Exchange exchange{request, received, received + std::chrono::milliseconds(config_.limits.deadline_ms)};
  exchange.may_block = false;
  auto response = answer(exchange);
  if (response) stats_.answered_on_io_thread++;
  return response;
}

std::optional<Response> Handler::answer(Exchange& exchange) {
  const Request& request = exchange.request;
  const auto deadline = exchange.deadline;
  Response response;
  try {
    // Admission: a request that waited its whole deadline for a thread is refused before
    // any work (503, not 504: nothing was tried, and a retry, here or elsewhere, may succeed).
    if (Clock::now() >= deadline) {
      stats_.overloaded++;
      throw Error(ErrorKind::kOverloaded, "server busy; waited too long to start; retry shortly");
    }
    response = route(exchange);
  } catch (const NeedsHandlerThread&) {
    return std::nullopt;  // nothing done that counts: handle() starts it afresh
  } catch (const Error& error) {
    exchange.cache = CacheOutcome::kNone;  // an error serves no image
    // Every 504 is counted here, wherever the deadline passed (waiting, or in the job).
    if (error.kind() == ErrorKind::kTimeout) stats_.timeouts++;
    if (error.kind() == ErrorKind::kStoreUnavailable) {
      stats_.store_errors++;
      log_event("warn", error.what());
    } else if (error.kind() == ErrorKind::kInternal) {
      log_event("error", std::string("request failed: ") + error.what());
    }
    response = error_response(request, error);
  } catch (const std::exception& error) {
    exchange.cache = CacheOutcome::kNone;
    log_event("error", std::string("request failed: ") + error.what());
    response = error_response(request, Error(ErrorKind::kInternal, error.what()));
  }
  if (exchange.cache != CacheOutcome::kNone)
    response.set("X-Cache", std::string(cache_outcome_name(exchange.cache)));
  count_response(exchange, response);
  log_access(exchange, response);
  return response;
}

Response Handler::overloaded(const Request& request, Clock::time_point received, std::string_view reason) {
  stats_.overloaded++;
  const Exchange exchange{request, received, received};
  Response response = error_response(request, Error(ErrorKind::kOverloaded, std::string(reason)));
  count_response(exchange, response);
  log_access(exchange, response);
  return response;
}

namespace {
std::string_view hint(const Request& request, std::string_view name) {
  const auto value = request[boost::beast::string_view(name.data(), name.size())];
  return {value.data(), value.size()};
}
}  // namespace

// The life of a request: route, parse, then serve the original as it is or the
// variant it asks for.
Response Handler::route(Exchange& exchange) {
  const Request& request = exchange.request;
  if (request.method() != http::verb::get && request.method() != http::verb::head) {
    throw Error(ErrorKind::kMethodNotAllowed, "only GET and HEAD are allowed");
  }
  const std::string_view target(request.target().data(), request.target().size());
  const auto path = target.substr(0, target.find('?'));
  if (path == kHealthPath) return text_response(request, "text/plain", "ok\n");
  if (path == kStatsPath) return text_response(request, "application/json", stats_json());
  if (path == kMetricsPath) return text_response(request, kPrometheusContentType, metrics_text());
  // The playground's pages (http/playground.h) are answered on a handler thread: its list reads the store.
  if (config_.playground && path.starts_with("/_imageflex/")) before_blocking(exchange);
  if (auto page = answer_playground(request, path, target.substr(path.size() + (path.size() < target.size())),
                                    config_, storage_)) {
    return std::move(*page);
  }

  // The URL becomes a plain request (or a 400/404/414 with its reason); then only what the
  // site signed, at the sizes it allows, may cost work or storage (403, 400, or snapped).
  const int max_dimension = config_.limits.max_output_dimension;
  ImageRequest parsed = parse_request(target, max_dimension, config_.presets);
  // Opt-in client hints stand for an absent dpr= (and w=), before the size guards judge.
  if (config_.client_hints) {
    parsed = apply_client_hints(std::move(parsed), hint(request, "Sec-CH-DPR"), hint(request, "Sec-CH-Width"),
                                max_dimension);
  }
  const ImageRequest image =
      guard_request(std::move(parsed), config_.url_guards, std::time(nullptr), max_dimension);
  Response response =
      image.wants_variant() ? serve_variant(exchange, image) : serve_original(exchange, image);
  if (config_.client_hints) response.set("Accept-CH", std::string(kClientHintHeaders));
  return response;
}

// No parameters: the original's bytes, with one conditional read of the store.
Response Handler::serve_original(Exchange& exchange, const ImageRequest& image) {
  before_blocking(exchange);
  exchange.cache = CacheOutcome::kOriginal;
  const IfNoneMatch if_none_match = parse_if_none_match(header(exchange.request, http::field::if_none_match));
  // The store answers the common revalidation (one ETag) itself, without sending the bytes.
  GetOptions options;
  options.max_bytes = config_.limits.max_source_bytes;
  options.if_none_match = if_none_match.first_unquoted();
  options.open_above = 0;  // sent from where it lies as the client reads: never whole in memory
  // A HEAD needs the type and the size, not the bytes: only the first ones are read (on S3 a
  // ranged GET, where a whole one was spooled to answer it).
  const bool head = exchange.request.method() == http::verb::head;
  if (head) options.first_bytes = kSniffBytes;
  GetResult got = storage_.get(image.key, options);
  if (got.status == GetStatus::kNotFound) versions_.forget(image.key);
  throw_unless_ok(got.status);
  versions_.learn(image.key, got.object.info, Clock::now());  // a read tells the version too
  const ObjectInfo info = got.object.info;
  auto body = Payload::of(std::move(got.object));
  std::string content_type;
  if (got.status == GetStatus::kOk) {
    // The true type comes from the bytes; anything that is not an image we serve is refused.
    auto format = sniff_format(body.first_bytes(kSniffBytes));
    if (!format) throw Error(ErrorKind::kUnsupportedMedia, "not an image in a supported format");
    content_type = std::string(mime_type(*format));
  }
  // A list of ETags, or a weak one, is compared here once the store has answered.
  const std::string etag = quote_etag(info.etag);
  const bool held = got.status == GetStatus::kNotModified || if_none_match.matches(etag);
  Response response = image_response(exchange.request, held, std::move(body), content_type, etag,
                                     info.last_modified, config_.cache_control_original);
  if (head && !held) response.content_length(info.size);  // the whole object's, not the bytes read
  return response;
}

// Parameters: the variant they name, from memory, the store, or made now.
// The original must exist; its version names the variants made from it. A version
// learnt within --trust-version-ms is used without asking the store again.
Response Handler::serve_variant(Exchange& exchange, const ImageRequest& image) {
  if (const auto trusted = versions_.get(image.key, Clock::now())) {
    try {
      return serve_version(exchange, image, *trusted);
    } catch (const Error& error) {
      if (error.kind() != ErrorKind::kSourceChanged) throw;
      versions_.forget(image.key);  // replaced within the window: ask the store, as below
    }
  }
  before_blocking(exchange);
  const auto original = storage_.stat(image.key);
  if (!original) {
    versions_.forget(image.key);
    throw Error(ErrorKind::kNotFound, "no such image");
  }
  versions_.learn(image.key, *original, Clock::now());
  exchange.version_asked = true;
  try {
    return serve_version(exchange, image, *original);
  } catch (const Error& error) {
    if (error.kind() == ErrorKind::kSourceChanged) versions_.forget(image.key);
    throw;
  }
}

// The variant of this version of the original.
Response Handler::serve_version(Exchange& exchange, const ImageRequest& image, const ObjectInfo& original) {
  // The original's header says what the variant really is (the format served, the size
  // the result really has), so URLs that make identical bytes name one variant.
  const ProbeCache::Entry probed = probe_original(exchange, image.key, original);
  const auto accepted =
      image.format ? AcceptedFormats{} : parse_accept(header(exchange.request, http::field::accept));
  const ImageRequest variant_request = normalise_request(image, probed.source, accepted, config_.quality);
  // The variant's canonical key: the original's version and the normalised parameters.
  const std::string key = variant_key(variant_request, original.etag, {}, config_.quality);
  const std::string etag = variant_etag(key);

  // A client that holds this variant already needs no bytes.
  const bool held = parse_if_none_match(header(exchange.request, http::field::if_none_match)).matches(etag);
  VariantPtr variant;
  if (held) {
    exchange.cache = CacheOutcome::kHitRevalidated;
    variant = std::make_shared<CachedVariant>(CachedVariant{"", "", etag, original.last_modified});
  } else {
    // Memory, then the store, then make it (once, however many ask at the same time).
    variant = find_variant(exchange, key, original);
    if (!variant) {
      // An AVIF whose encode would keep the browser waiting: a WebP now, the AVIF for later
      // (metadata has no format to stand in for).
      if (!variant_request.meta) {
        const Plan plan = plan_geometry(probed.source.size, variant_request.geometry);
        if (auto deferral = defer_avif(*variant_request.format, !image.format, accepted, probed.source, plan,
                                       config_.quality.avif_effort, config_.avif_budget_ms)) {
          return serve_stand_in(exchange, variant_request, deferral->now, probed, original);
        }
      }
      variant = make_variant_once(exchange, variant_request, probed, original, key);
    }
  }

  Response response = image_response(exchange.request, held, variant_body(variant), variant->content_type,
                                     variant->etag, variant->last_modified, config_.cache_control_variant);
  // What else chose these bytes: Accept (without f=) and the client hints (when honoured);
  // metadata depends on the original alone.
  std::string vary = image.format || image.meta ? "" : "Accept";
  if (config_.client_hints && !image.meta) {
    vary += std::string(vary.empty() ? "" : ", ") + std::string(kClientHintHeaders);
  }
  if (!vary.empty()) response.set(http::field::vary, vary);
  return response;
}

// The header alone, from a range read, and once per original version (the probe cache).
ProbeCache::Entry Handler::probe_original(const Exchange& exchange, const std::string& key,
                                          const ObjectInfo& original) {
  if (auto cached = probes_.get(key, original.etag)) return *cached;
  before_blocking(exchange);
  if (original.size > config_.limits.max_source_bytes) {
    throw Error(ErrorKind::kTooLarge, "image is larger than the source limit");
  }
  GetOptions options;
  options.max_bytes = config_.limits.max_source_bytes;
  options.if_match = original.etag;  // the version the variant will be named after
  options.first_bytes = kHeaderBytes;
  GetResult got = storage_.get(key, options);
  throw_unless_ok(got.status);
  std::optional<SourceInfo> source = probe_prefix(got.object.bytes, got.object.info.size, config_.limits);
  if (!source) {
    // A format whose header may lie anywhere, or one longer than the prefix: the whole
    // original, within the byte limit (the store checks it before reading).
    options.first_bytes = 0;
    got = storage_.get(key, options);
    throw_unless_ok(got.status);
    source = probe(got.object.bytes, config_.limits);
  }
  const ProbeCache::Entry entry{*source, got.object.info.size};
  probes_.put(key, original.etag, entry);
  return entry;
}

Handler::VariantPtr Handler::find_variant(Exchange& exchange, const std::string& key,
                                          const ObjectInfo& original) {
  if (auto cached = memory_cache_.get(key)) {
    stats_.memory_hits++;
    exchange.cache = CacheOutcome::kHitMemory;
    return cached;
  }
  // What the memory cache would not keep is streamed from the store, not read whole.
  GetOptions options;
  options.open_above = memory_cache_.largest_entry();
  // A variant file the store holds open is served without blocking, on an I/O thread too.
  std::optional<GetResult> held = storage_.get_held(key, options);
  if (!held) before_blocking(exchange);
  GetResult got = held ? std::move(*held) : storage_.get(key, options);
  if (got.status != GetStatus::kOk) return nullptr;
  stats_.store_hits++;
  exchange.cache = CacheOutcome::kHitStore;
  // Last-Modified is the original's, as on a miss or a memory hit, not the variant file's: a
  // variant is as new as the picture it was made from, and one that a node made later must
  // not look newer to a client's or CDN's If-Modified-Since.
  auto variant = std::make_shared<CachedVariant>(
      CachedVariant{std::move(got.object.bytes), got.object.info.content_type, variant_etag(key),
                    original.last_modified, std::move(got.object.opened)});
  memory_cache_.put(key, variant);
  return variant;
}

Handler::VariantPtr Handler::make_variant_once(Exchange& exchange, const ImageRequest& variant,
                                               const ProbeCache::Entry& probed, const ObjectInfo& original,
                                               const std::string& key) {
  auto ticket = flights_.join(key);
  if (!ticket.leader()) {
    exchange.cache = CacheOutcome::kMissCoalesced;
    stats_.coalesced++;
    wait_until_deadline(ticket.result(), exchange.deadline);
    return ticket.result().get();  // rethrows the leader's error, if any
  }
  exchange.cache = CacheOutcome::kMiss;
  try {
    // A flight that finished between our cache look-up and join() left its result here.
    auto cached = memory_cache_.get(key);
    if (cached) exchange.cache = CacheOutcome::kHitMemory;
    ticket.fulfil(cached ? cached : produce_variant(exchange, variant, probed, original, key));
  } catch (...) {
    ticket.fail(std::current_exception());
  }
  return ticket.result().get();
}

Handler::VariantPtr Handler::produce_variant(const Exchange& exchange, const ImageRequest& variant,
                                             const ProbeCache::Entry& probed, const ObjectInfo& original,
                                             const std::string& key) {
  // The cost is known from the header: an output over the bounds is refused (413), and
  // the job waits for room in the memory budget (or gets 503), before the original is read.
  // ?meta decodes one small thumbnail, whatever the original: charged as a small PNG.
  const GeometryRequest geometry =
      variant.meta ? GeometryRequest{kDescribeSide, kDescribeSide, Fit::kInside, false} : variant.geometry;
  const Format output = variant.meta ? Format::kPng : *variant.format;
  const Plan plan = plan_geometry(probed.source.size, geometry);
  check_output_pixels(probed.source, plan, output, config_.limits);
  std::optional<CountedPlace> place;
  std::shared_ptr<Admission::Ticket> admitted;
  try {
    // A miss holds this handler thread until its transform ends: beyond --miss-threads of
    // them at once, refuse at once, so hits, originals and new requests keep the rest.
    place.emplace(misses_in_progress_, miss_threads_);
    admitted = admission_.admit(estimate_memory(probed.source, probed.size, plan, output, variant.effects),
                                exchange.deadline);
  } catch (const Error& error) {
    if (error.kind() == ErrorKind::kOverloaded) stats_.overloaded++;
    throw;
  }

  // The original, at the version the key names.
  const VariantPtr source = read_original(variant.key, original, exchange.version_asked);

  // Probe and transform on the bounded pool; the job owns copies of what it reads.
  // Metadata is JSON, made like a variant and cached like one under its own type.
  const std::string content_type = variant.meta ? "application/json" : std::string(mime_type(output));
  const auto deadline = exchange.deadline;
  // The job holds its admission until libvips is done, even past a 504 here.
  auto future = transforms_.try_run([this, source, variant, deadline, admitted] {
    if (Clock::now() > deadline) throw Error(ErrorKind::kTimeout, "image took longer than the deadline");
    const auto began = Clock::now();
    if (variant.meta) {
      Encoded described;
      described.bytes = describe_original(source->bytes, config_.limits, deadline);
      return described;
    }
    Encoded encoded = make_variant(source->bytes, variant, {}, config_.limits, config_.quality, deadline);
    stats_.count_transform(encoded.format, std::chrono::duration<double>(Clock::now() - began).count());
    return encoded;
  });
  if (!future) {
    stats_.overloaded++;
    throw Error(ErrorKind::kOverloaded, "too many images being made; retry shortly");
  }
  wait_until_deadline(*future, deadline);
  Encoded encoded = future->get();
  stats_.transforms++;

  auto made = std::make_shared<CachedVariant>(
      CachedVariant{std::move(encoded.bytes), content_type, variant_etag(key), source->last_modified});
  store_variant(key, *made, original.etag);
  memory_cache_.put(key, made);
  return made;
}

Handler::VariantPtr Handler::read_original(const std::string& key, const ObjectInfo& original, bool asked) {
  const std::string kept_as = key + '\n' + original.etag;
  if (auto kept = originals_.get(kept_as)) {
    // A stat (a HEAD on S3) costs far less than the read it saves.
    const auto current = asked ? std::optional<ObjectInfo>(original) : storage_.stat(key);
    if (!current || current->etag != original.etag) {
      throw Error(ErrorKind::kSourceChanged, "image changed while being read; retry");
    }
    stats_.originals_reused++;
    return kept;
  }
  GetOptions options;
  options.max_bytes = config_.limits.max_source_bytes;
  options.if_match = original.etag;  // it must still be the version the key names
  GetResult got = storage_.get(key, options);
  throw_unless_ok(got.status);
  auto read = std::make_shared<const CachedVariant>(CachedVariant{std::move(got.object.bytes),
                                                                  std::move(got.object.info.content_type), "",
                                                                  got.object.info.last_modified});
  originals_.put(kept_as, read);
  return read;
}

// Stored beside the originals so later requests (and other nodes) skip the work.
// A failed write still serves this request: the next one simply makes it again.
void Handler::store_variant(const std::string& key, const CachedVariant& variant,
                            const std::string& source_etag) {
  try {
    PutOptions put;
    put.content_type = variant.content_type;
    put.cache_control = config_.cache_control_variant;
    put.metadata["source-etag"] = source_etag;
    storage_.put(key, variant.bytes, put);
  } catch (const Error& error) {
    stats_.store_errors++;
    log_event("warn", std::string("variant not stored: ") + error.what());
  }
}

void Handler::log_access(const Exchange& exchange, const Response& response) {
  if (!config_.access_log) return;
  const double duration_ms =
      std::chrono::duration<double, std::milli>(Clock::now() - exchange.started).count();
  const Request& request = exchange.request;
  log_line(Json{
      {"time", static_cast<std::int64_t>(std::time(nullptr))},
      {"method", std::string_view(request.method_string().data(), request.method_string().size())},
      {"path", std::string_view(request.target().data(), request.target().size())},
      {"status", response.result_int()},
      {"bytes", response.body().size()},
      {"duration_ms", std::round(duration_ms * 100) / 100},
      {"cache", cache_outcome_name(exchange.cache).empty() ? "none" : cache_outcome_name(exchange.cache)},
  });
}

}  // namespace imageflex
