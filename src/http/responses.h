// Building HTTP responses: images (with their validators), plain text and errors.
// Every response the handler sends is made here, so headers stay consistent.
#pragma once

#include <boost/beast/http.hpp>

#include <cstdint>
#include <string>
#include <string_view>

#include "cache/memory_cache.h"
#include "common/error.h"
#include "http/response_body.h"

namespace imageflex {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<ResponseBody>;
using ResponseSerializer = http::response_serializer<ResponseBody>;

// The value of one request header ("" when absent).
std::string_view header(const Request& request, http::field name);

// An image, or a 304 for it (no body, no type); HEAD gets the headers alone (and `body`,
// unsent, is let go at once). `etag` is sent as given (quoted), with Last-Modified and
// Cache-Control.
Response image_response(const Request& request, bool not_modified, Payload body,
                        std::string_view content_type, std::string_view etag, std::int64_t last_modified,
                        std::string_view cache_control);

// A variant's bytes as a body: the memory cache's copy, shared, or the store's, streamed.
Payload variant_body(const std::shared_ptr<const CachedVariant>& variant);

// A small uncached text or JSON body (health, stats).
Response text_response(const Request& request, std::string_view content_type, std::string body);

// The status for the error's kind and its reason as a one-line plain-text body.
// Retryable kinds carry Retry-After; 405 carries Allow. kInternal shows no reason.
Response error_response(const Request& request, const Error& error);

}  // namespace imageflex
