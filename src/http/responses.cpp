#include "http/responses.h"

#include "common/http_date.h"

namespace imageflex {
namespace {

// Beast 1.74 takes its own string_view, not std::string_view.
boost::beast::string_view view(std::string_view text) {
  return {text.data(), text.size()};
}

}  // namespace

std::string_view header(const Request& request, http::field name) {
  auto value = request[name];
  return {value.data(), value.size()};
}

Response image_response(const Request& request, bool not_modified, Payload body,
                        std::string_view content_type, std::string_view etag, std::int64_t last_modified,
                        std::string_view cache_control) {
  Response response{not_modified ? http::status::not_modified : http::status::ok, request.version()};
  response.keep_alive(request.keep_alive());
  response.set(http::field::etag, view(etag));
  response.set(http::field::last_modified, format_http_date(last_modified));
  response.set(http::field::cache_control, view(cache_control));
  if (not_modified) return response;
  response.set(http::field::content_type, view(content_type));
  if (request.method() == http::verb::head) {
    response.content_length(body.size());
  } else {
    response.body() = std::move(body);
    response.prepare_payload();
  }
  return response;
}

Payload variant_body(const std::shared_ptr<const CachedVariant>& variant) {
  if (variant->in_store) return Payload::streamed(variant->in_store);
  // Shares the variant's ownership: the bytes live while any response still sends them.
  return Payload::shared(std::shared_ptr<const std::string>(variant, &variant->bytes));
}

Response text_response(const Request& request, std::string_view content_type, std::string body) {
  Response response{http::status::ok, request.version()};
  response.keep_alive(request.keep_alive());
  response.set(http::field::content_type, view(content_type));
  response.set(http::field::cache_control, "no-store");
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

Response error_response(const Request& request, const Error& error) {
  Response response{static_cast<http::status>(http_status(error.kind())), request.version()};
  response.keep_alive(request.keep_alive());
  response.set(http::field::content_type, "text/plain; charset=utf-8");
  response.set(http::field::cache_control, "no-store");
  switch (error.kind()) {
    case ErrorKind::kMethodNotAllowed: response.set(http::field::allow, "GET, HEAD"); break;
    case ErrorKind::kOverloaded:
    case ErrorKind::kStoreUnavailable:
    case ErrorKind::kSourceChanged: response.set(http::field::retry_after, "1"); break;
    default: break;
  }
  // A bug's details stay in the log: clients see no internals.
  const std::string reason = error.kind() == ErrorKind::kInternal ? "internal error" : error.what();
  if (request.method() != http::verb::head) response.body() = reason + "\n";
  response.prepare_payload();
  return response;
}

}  // namespace imageflex
