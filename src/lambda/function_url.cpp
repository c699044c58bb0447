#include "lambda/function_url.h"

#include <openssl/evp.h>

#include <cctype>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace imageflex {
namespace {

using Json = nlohmann::json;

const Json* member(const Json& object, const char* name) {
  if (!object.is_object()) return nullptr;
  auto found = object.find(name);
  return found == object.end() ? nullptr : &*found;
}

std::string string_member(const Json& object, const char* name) {
  const Json* value = member(object, name);
  if (!value || value->is_null()) return "";
  if (!value->is_string()) throw Error(ErrorKind::kBadRequest, std::string("malformed request: ") + name);
  return value->get<std::string>();
}

// A header name is a non-empty token; a value holds no line break or NUL (RFC 9110).
bool valid_header(std::string_view name, std::string_view value) {
  static constexpr std::string_view kTokenSymbols = "!#$%&'*+-.^_`|~";
  if (name.empty()) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && kTokenSymbols.find(c) == std::string_view::npos)
      return false;
  }
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// Status, headers and cookies: what both invoke modes send ahead of the body. Framing
// headers are the function URL's business; Set-Cookie travels in "cookies".
Json response_head(const Response& response) {
  Json headers = Json::object();
  Json cookies = Json::array();
  for (const auto& field : response) {
    std::string lower(field.name_string());
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "content-length" || lower == "connection" || lower == "keep-alive" ||
        lower == "transfer-encoding") {
      continue;
    }
    const std::string value(field.value());
    if (lower == "set-cookie") {
      cookies.push_back(value);
    } else if (headers.contains(lower)) {
      headers[lower] = headers[lower].get<std::string>() + ", " + value;  // as HTTP folds repeated fields
    } else {
      headers[lower] = value;
    }
  }
  return Json{{"statusCode", response.result_int()}, {"headers", headers}, {"cookies", cookies}};
}

}  // namespace

Request request_from_event(std::string_view event_json) {
  Json event = Json::parse(event_json, nullptr, /*allow_exceptions=*/false);
  const Json* context = member(event, "requestContext");
  const Json* http = context ? member(*context, "http") : nullptr;
  const Json* method = http ? member(*http, "method") : nullptr;
  const Json* raw_path = member(event, "rawPath");
  if (!method || !method->is_string() || !raw_path || !raw_path->is_string()) {
    throw NotAnHttpEvent(
        "not a function URL event (payload format 2.0): no rawPath or requestContext.http.method");
  }

  Request request;
  request.version(11);
  if (!valid_header(method->get<std::string>(), ""))
    throw Error(ErrorKind::kBadRequest, "malformed request: method");
  request.method_string(method->get<std::string>());
  const std::string path = raw_path->get<std::string>();
  if (path.empty() || path.front() != '/') throw Error(ErrorKind::kBadRequest, "malformed request: rawPath");
  const std::string query = string_member(event, "rawQueryString");
  request.target(query.empty() ? path : path + "?" + query);

  // Header names arrive in lower case, repeated ones joined with commas, as the handler reads them.
  if (const Json* headers = member(event, "headers"); headers && !headers->is_null()) {
    if (!headers->is_object()) throw Error(ErrorKind::kBadRequest, "malformed request: headers");
    for (const auto& [name, value] : headers->items()) {
      if (!value.is_string() || !valid_header(name, value.get<std::string>())) {
        throw Error(ErrorKind::kBadRequest, "malformed request: headers");
      }
      request.set(name, value.get<std::string>());
    }
  }
  // The function URL moves Cookie headers into "cookies"; put them back.
  if (const Json* cookies = member(event, "cookies"); cookies && !cookies->is_null()) {
    if (!cookies->is_array()) throw Error(ErrorKind::kBadRequest, "malformed request: cookies");
    std::string joined;
    for (const auto& cookie : *cookies) {
      if (!cookie.is_string()) throw Error(ErrorKind::kBadRequest, "malformed request: cookies");
      joined += (joined.empty() ? "" : "; ") + cookie.get<std::string>();
    }
    if (!joined.empty()) request.set(boost::beast::http::field::cookie, joined);
  }

  std::string body = string_member(event, "body");
  const Json* encoded = member(event, "isBase64Encoded");
  if (encoded && !encoded->is_null() && !encoded->is_boolean()) {
    throw Error(ErrorKind::kBadRequest, "malformed request: isBase64Encoded");
  }
  if (encoded && encoded->is_boolean() && encoded->get<bool>()) body = base64_decode(body);
  const bool reads =
      request.method() == boost::beast::http::verb::get || request.method() == boost::beast::http::verb::head;
  if (reads && !body.empty()) throw Error(ErrorKind::kBadRequest, "a GET or HEAD request carries no body");
  return request;
}

std::string buffered_payload(const Response& response) {
  Json payload = response_head(response);
  payload["body"] = base64_encode(response.body().to_string());
  payload["isBase64Encoded"] = true;
  return payload.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string stream_prelude(const Response& response) {
  return response_head(response).dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) throw Error(ErrorKind::kBadRequest, "malformed request: body is not base64");
  std::string bytes(3 * text.size() / 4, '\0');
  const int written =
      EVP_DecodeBlock(reinterpret_cast<unsigned char*>(bytes.data()),
                      reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (written < 0) throw Error(ErrorKind::kBadRequest, "malformed request: body is not base64");
  // EVP_DecodeBlock counts the bytes that '=' padding stands for; drop them.
  std::size_t padding = 0;
  for (auto it = text.rbegin(); it != text.rend() && *it == '=' && padding < 2; ++it) ++padding;
  bytes.resize(static_cast<std::size_t>(written) - padding);
  return bytes;
}

}  // namespace imageflex
