#include "http/handler.h"

#include <ctime>
#include <future>

#include "common/log.h"
#include "common/text.h"
#include "image/pipeline.h"
#include "request/key.h"

namespace imageflex {
namespace {

std::string http_date(std::int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

// True when an If-None-Match header names this ETag (or is "*"). Weak validators
// compare equal too, as RFC 9110 asks for If-None-Match.
bool etag_matches(std::string_view header, std::string_view etag) {
  while (!header.empty()) {
    auto comma = header.find(',');
    auto candidate = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    while (!candidate.empty() && candidate.front() == ' ') candidate.remove_prefix(1);
    while (!candidate.empty() && candidate.back() == ' ') candidate.remove_suffix(1);
    if (candidate.substr(0, 2) == "W/") candidate.remove_prefix(2);
    if (candidate == "*" || candidate == etag) return true;
  }
  return false;
}

std::string_view header(const Request& request, http::field name) {
  auto value = request[name];
  return {value.data(), value.size()};
}

// Waits for a transform until the request's deadline; past it, a 504.
template <typename Future>
void wait_until_deadline(const Future& future, std::chrono::steady_clock::time_point deadline,
                         std::atomic<std::uint64_t>& timeouts) {
  if (future.wait_until(deadline) == std::future_status::timeout) {
    timeouts++;
    throw Error(ErrorKind::kTimeout, "image took longer than the deadline");
  }
}

std::string quoted(const std::string& etag) {
  return "\"" + etag + "\"";
}

// The first entity tag of an If-None-Match header, without W/ and quotes ("" for none or "*").
std::string first_etag(std::string_view header) {
  auto candidate = trim(header.substr(0, header.find(',')));
  if (candidate.substr(0, 2) == "W/") candidate.remove_prefix(2);
  if (candidate.size() < 2 || candidate.front() != '"' || candidate.back() != '"') return "";
  return std::string(candidate.substr(1, candidate.size() - 2));
}

// A response carrying an image, or a 304 for it; HEAD gets the headers alone.
Response image_response(const Request& request, http::status status, const std::string& bytes,
                        const std::string& content_type) {
  Response response{status, request.version()};
  response.keep_alive(request.keep_alive());
  if (status == http::status::not_modified) return response;
  response.set(http::field::content_type, content_type);
  if (request.method() == http::verb::head) {
    response.content_length(bytes.size());
  } else {
    response.body() = bytes;
    response.prepare_payload();
  }
  return response;
}

}  // namespace

Handler::Handler(const Config& config, Storage& storage)
    : config_(config),
      storage_(storage),
      memory_cache_(config.memory_cache_bytes),
      transforms_(config.workers, static_cast<std::size_t>(config.queue), end_vips_job) {}

Handler::~Handler() = default;

Response Handler::handle(const Request& request) {
  return handle(request, Clock::time_point::max());
}

Response Handler::handle(const Request& request, Clock::time_point deadline_cap) {
  const auto started = Clock::now();
  const auto deadline =
      std::min(started + std::chrono::milliseconds(config_.limits.deadline_ms), deadline_cap);
  std::string cache_outcome = "none";
  Response response;
  stats_.requests++;
  try {
    response = route(request, deadline, cache_outcome);
  } catch (const Error& error) {
    if (error.kind() == ErrorKind::kStoreUnavailable) {
      stats_.store_errors++;
      log_event("warn", error.what());
    }
    response = error_response(request, error);
  } catch (const std::exception& error) {
    log_event("error", std::string("request failed: ") + error.what());
    response = error_response(request, Error(ErrorKind::kInternal, "internal error"));
  }
  if (!cache_outcome.empty() && cache_outcome != "none") response.set("X-Cache", cache_outcome);
  log_access(request, response, started, cache_outcome);
  return response;
}

Response Handler::overloaded(const Request& request) {
  stats_.overloaded++;
  Response response = error_response(request, Error(ErrorKind::kOverloaded, "server busy; retry shortly"));
  log_access(request, response, Clock::now(), "none");
  return response;
}

// The life of a request: route, parse, look up the original, then serve it as it is
// or find or make the variant it asks for.
Response Handler::route(const Request& request, Clock::time_point deadline, std::string& cache_outcome) {
  if (request.method() != http::verb::get && request.method() != http::verb::head) {
    throw Error(ErrorKind::kMethodNotAllowed, "only GET and HEAD are allowed");
  }
  const std::string_view target(request.target().data(), request.target().size());
  const auto path = target.substr(0, target.find('?'));
  if (path == kHealthPath || path == kStatsPath) {
    Response response{http::status::ok, request.version()};
    response.keep_alive(request.keep_alive());
    response.set(http::field::content_type, path == kHealthPath ? "text/plain" : "application/json");
    response.set(http::field::cache_control, "no-store");
    response.body() = path == kHealthPath ? "ok\n" : stats_json();
    response.prepare_payload();
    return response;
  }

  // 1. The URL becomes a plain request (or a 400/404/414 with its reason).
  const ImageRequest image = parse_request(target, config_.limits.max_output_dimension);

  // 2. No parameters: the original as it is (one conditional read of the store).
  if (!image.wants_variant()) return serve_original(request, image, cache_outcome);

  // 3. The original must exist; its version names the variants made from it.
  const auto original = storage_.stat(image.key);
  if (!original) throw Error(ErrorKind::kNotFound, "no such image");

  // 4. The variant's canonical key: the original's version, the parameters and, without
  //    f=, which modern formats the client accepts (so responses vary by Accept).
  const auto accepted = image.format ? AcceptedFormats{} : parse_accept(header(request, http::field::accept));
  const std::string key = variant_key(image, original->etag, accepted, config_.quality);
  const std::string etag = variant_etag(key);

  // 5. A client that holds this variant already needs no bytes.
  VariantPtr variant;
  http::status status = http::status::ok;
  if (etag_matches(header(request, http::field::if_none_match), etag)) {
    status = http::status::not_modified;
    cache_outcome = "hit-revalidated";
    variant = std::make_shared<CachedVariant>(CachedVariant{"", "", etag, original->last_modified});
  } else {
    // 6. Memory, then the store, then make it (once, however many ask at the same time).
    variant = find_variant(key, cache_outcome);
    if (!variant) variant = make_variant(image, accepted, key, deadline, cache_outcome);
  }

  Response response = image_response(request, status, variant->bytes, variant->content_type);
  response.set(http::field::etag, variant->etag);
  response.set(http::field::last_modified, http_date(variant->last_modified));
  response.set(http::field::cache_control, config_.cache_control_variant);
  if (!image.format) response.set(http::field::vary, "Accept");
  return response;
}

Response Handler::serve_original(const Request& request, const ImageRequest& image,
                                 std::string& cache_outcome) {
  cache_outcome = "original";
  // The store answers the common revalidation (one ETag) itself, without sending the bytes.
  const std::string_view if_none_match = header(request, http::field::if_none_match);
  GetOptions options;
  options.max_bytes = config_.limits.max_source_bytes;
  options.if_none_match = first_etag(if_none_match);
  GetResult got = storage_.get(image.key, options);
  switch (got.status) {
    case GetStatus::kNotFound: throw Error(ErrorKind::kNotFound, "no such image");
    case GetStatus::kTooLarge: throw Error(ErrorKind::kTooLarge, "image is larger than the source limit");
    case GetStatus::kPreconditionFailed: throw Error(ErrorKind::kInternal, "unexpected precondition failure");
    case GetStatus::kNotModified:
    case GetStatus::kOk: break;
  }
  std::string content_type;
  if (got.status == GetStatus::kOk) {
    // The true type comes from the bytes; anything that is not an image we serve is refused.
    auto format = sniff_format(got.object.bytes);
    if (!format) throw Error(ErrorKind::kUnsupportedMedia, "not an image in a supported format");
    content_type = std::string(mime_type(*format));
  }
  // A list of ETags, or a weak one, is compared here once the store has answered.
  const bool held =
      got.status == GetStatus::kNotModified || etag_matches(if_none_match, quoted(got.object.info.etag));
  Response response = image_response(request, held ? http::status::not_modified : http::status::ok,
                                     got.object.bytes, content_type);
  response.set(http::field::etag, quoted(got.object.info.etag));
  response.set(http::field::last_modified, http_date(got.object.info.last_modified));
  response.set(http::field::cache_control, config_.cache_control_original);
  return response;
}

Handler::VariantPtr Handler::find_variant(const std::string& key, std::string& cache_outcome) {
  if (auto cached = memory_cache_.get(key)) {
    stats_.memory_hits++;
    cache_outcome = "hit-memory";
    return cached;
  }
  GetResult got = storage_.get(key, {});
  if (got.status != GetStatus::kOk) return nullptr;
  stats_.store_hits++;
  cache_outcome = "hit-store";
  auto variant =
      std::make_shared<CachedVariant>(CachedVariant{std::move(got.object.bytes), got.object.info.content_type,
                                                    variant_etag(key), got.object.info.last_modified});
  memory_cache_.put(key, variant);
  return variant;
}

Handler::VariantPtr Handler::make_variant(const ImageRequest& image, const AcceptedFormats& accepted,
                                          const std::string& key, Clock::time_point deadline,
                                          std::string& cache_outcome) {
  auto ticket = flights_.join(key);
  if (ticket.leader()) {
    cache_outcome = "miss";
    try {
      // A flight that finished between our cache look-up and join() left its result here.
      auto cached = memory_cache_.get(key);
      if (cached) cache_outcome = "hit-memory";
      ticket.promise->set_value(cached ? cached : produce_variant(image, accepted, key, deadline));
    } catch (...) {
      ticket.promise->set_exception(std::current_exception());
    }
    flights_.finish(key);
  } else {
    cache_outcome = "miss-coalesced";
    stats_.coalesced++;
    wait_until_deadline(ticket.result, deadline, stats_.timeouts);
  }
  return ticket.result.get();  // rethrows the leader's error, if any
}

Handler::VariantPtr Handler::produce_variant(const ImageRequest& image, const AcceptedFormats& accepted,
                                             const std::string& key, Clock::time_point deadline) {
  // Read the original; it must still be the version the key names.
  GetOptions options;
  options.max_bytes = config_.limits.max_source_bytes;
  GetResult got = storage_.get(image.key, options);
  if (got.status == GetStatus::kNotFound) throw Error(ErrorKind::kNotFound, "no such image");
  if (got.status == GetStatus::kTooLarge)
    throw Error(ErrorKind::kTooLarge, "image is larger than the source limit");
  if (got.status != GetStatus::kOk ||
      variant_key(image, got.object.info.etag, accepted, config_.quality) != key) {
    throw Error(ErrorKind::kOverloaded, "image changed while being read; retry");
  }
  auto original = std::make_shared<const Object>(std::move(got.object));

  // Probe and transform on the bounded pool; the job owns copies of what it reads.
  auto promise = std::make_shared<std::promise<Encoded>>();
  auto future = promise->get_future();
  bool taken = transforms_.try_submit([this, original, image, accepted, deadline, promise] {
    try {
      if (Clock::now() > deadline) throw Error(ErrorKind::kTimeout, "image took longer than the deadline");
      SourceInfo source = probe(original->bytes, config_.limits);
      Format output = image.format
                          ? *image.format
                          : choose_format(accepted, {source.format, source.alpha, source.animated()});
      promise->set_value(transform(original->bytes, source, {image.geometry, output, image.quality},
                                   config_.limits, config_.quality, deadline));
    } catch (...) {
      promise->set_exception(std::current_exception());
    }
  });
  if (!taken) {
    stats_.overloaded++;
    throw Error(ErrorKind::kOverloaded, "too many images being made; retry shortly");
  }
  wait_until_deadline(future, deadline, stats_.timeouts);
  Encoded encoded = future.get();
  stats_.transforms++;

  auto variant = std::make_shared<CachedVariant>(
      CachedVariant{std::move(encoded.bytes), std::string(mime_type(encoded.format)), variant_etag(key),
                    original->info.last_modified});
  // Stored beside the originals so later requests (and other nodes) skip the work.
  // A failed write still serves this request: the next one simply makes it again.
  try {
    PutOptions put;
    put.content_type = variant->content_type;
    put.cache_control = config_.cache_control_variant;
    put.metadata["source-etag"] = original->info.etag;
    storage_.put(key, variant->bytes, put);
  } catch (const Error& error) {
    stats_.store_errors++;
    log_event("warn", std::string("variant not stored: ") + error.what());
  }
  memory_cache_.put(key, variant);
  return variant;
}

std::string Handler::stats_json() const {
  auto field = [](const char* name, std::uint64_t value) {
    return "\"" + std::string(name) + "\":" + std::to_string(value);
  };
  return "{" + field("requests", stats_.requests) + "," + field("transforms", stats_.transforms) + "," +
         field("memory_hits", stats_.memory_hits) + "," + field("store_hits", stats_.store_hits) + "," +
         field("coalesced", stats_.coalesced) + "," + field("overloaded", stats_.overloaded) + "," +
         field("timeouts", stats_.timeouts) + "," + field("store_errors", stats_.store_errors) + "," +
         field("queued", transforms_.queued()) + "," + field("running", transforms_.running()) + "," +
         field("memory_cache_bytes", memory_cache_.size_bytes()) + "}\n";
}

Response Handler::error_response(const Request& request, const Error& error) {
  Response response{static_cast<http::status>(http_status(error.kind())), request.version()};
  response.keep_alive(request.keep_alive());
  response.set(http::field::content_type, "text/plain; charset=utf-8");
  response.set(http::field::cache_control, "no-store");
  if (error.kind() == ErrorKind::kMethodNotAllowed) response.set(http::field::allow, "GET, HEAD");
  if (error.kind() == ErrorKind::kOverloaded || error.kind() == ErrorKind::kStoreUnavailable) {
    response.set(http::field::retry_after, "1");
  }
  if (request.method() != http::verb::head) response.body() = std::string(error.what()) + "\n";
  response.prepare_payload();
  return response;
}

void Handler::log_access(const Request& request, const Response& response, Clock::time_point started,
                         const std::string& cache_outcome) {
  if (!config_.access_log) return;
  const double duration_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  char duration[32];
  std::snprintf(duration, sizeof duration, "%.2f", duration_ms);
  const std::string method(request.method_string());
  const std::string path(request.target());
  log_line("{\"time\":" + std::to_string(std::time(nullptr)) + ",\"method\":\"" + json_escape(method) +
           "\",\"path\":\"" + json_escape(path) + "\",\"status\":" + std::to_string(response.result_int()) +
           ",\"bytes\":" + std::to_string(response.body().size()) + ",\"duration_ms\":" + duration +
           ",\"cache\":\"" + json_escape(cache_outcome) + "\"}");
}

}  // namespace imageflex
