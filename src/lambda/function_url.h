// Lambda function URL events (payload format 2.0) ↔ the HTTP request and response
// that Handler::handle takes and gives, so a URL behind Lambda is served by the same code.
// https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

#include "common/hash.h"  // base64_encode, beside base64_decode below
#include "http/handler.h"

namespace imageflex {

// Lambda's limit on a BUFFERED response payload (the JSON, body base64-encoded).
inline constexpr std::size_t kBufferedPayloadLimit = std::size_t{6} << 20;

// The payload is not a function URL event at all (e.g. a direct `aws lambda invoke`
// with some other JSON): there is no HTTP client to answer, so it is an invocation error.
class NotAnHttpEvent : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The request an event describes: method, rawPath?rawQueryString, headers, cookies.
// Throws NotAnHttpEvent, or Error(kBadRequest) for a URL event with a malformed part
// or with a body (GET and HEAD carry none; other methods are left to the handler's 405).
Request request_from_event(std::string_view event_json);

// BUFFERED mode: {"statusCode", "headers", "cookies", "body" (base64), "isBase64Encoded": true}.
std::string buffered_payload(const Response& response);

// RESPONSE_STREAM mode: the prelude {"statusCode", "headers", "cookies"} sent before the body.
std::string stream_prelude(const Response& response);

// The opposite of base64_encode (common/hash.h). Throws Error(kBadRequest) if `text` is not base64.
std::string base64_decode(std::string_view text);

}  // namespace imageflex
