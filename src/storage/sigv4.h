// AWS Signature Version 4 request signing, with no I/O, so that it can be checked
// against the worked examples AWS publishes. The S3 client (s3_client.h) builds
// a request, asks sign_v4() for the headers to add, and sends exactly what it signed.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>
#include "common/hash.h"  // sha256_hex, for payload hashes

namespace imageflex {

// Ordered (name, value) pairs; used for both headers and query parameters.
using NameValueList = std::vector<std::pair<std::string, std::string>>;

struct AwsCredentials {
  std::string access_key;  // may contain ':' (Swift tempauth "account:user"); used verbatim
  std::string secret_key;
  std::string session_token;  // empty: long-term credentials, no x-amz-security-token
};

struct SigV4Request {
  std::string method;          // "GET", "PUT", ...
  std::string canonical_uri;   // path, already URI-encoded the way it is sent: "/bucket/a%20b.jpg"
  NameValueList query;         // decoded names and values; the signer encodes and sorts them
  NameValueList headers;       // headers to sign, any case; must include "host"
  std::string payload_sha256;  // lower-case hex SHA-256 of the body (kEmptyPayloadSha256 if none)
};

struct SigV4Result {
  // Headers the caller must add to the request, in this order: x-amz-date,
  // x-amz-content-sha256, x-amz-security-token (only with a session token), Authorization.
  NameValueList headers;
  // The intermediate steps, for tests and for debugging a SignatureDoesNotMatch.
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;  // lower-case hex
};

// SHA-256 of the empty string: the payload hash of a request without a body.
inline constexpr std::string_view kEmptyPayloadSha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// Signs `request` at time `when` for `region` and `service` (e.g. "s3"). The headers
// x-amz-date, x-amz-content-sha256 and x-amz-security-token are always set by the
// signer: any of them in request.headers is ignored, so that what is signed and what
// is sent cannot differ. Throws std::invalid_argument if there is no host header.
SigV4Result sign_v4(const SigV4Request& request, std::string_view region, std::string_view service,
                    const AwsCredentials& credentials, std::chrono::system_clock::time_point when);

// AWS URI encoding: A-Z a-z 0-9 - _ . ~ are kept, every other byte (each byte of a
// UTF-8 sequence on its own) becomes %XX with upper-case hex. '/' is kept unless
// encode_slash (object key paths keep it; query names and values encode it).
std::string uri_encode(std::string_view text, bool encode_slash);

// "a=1&b=%2F" from decoded pairs: each name and value uri_encode()d, sorted by name
// then value. Both the signer and the URL builder use it, so they always agree.
std::string canonical_query_string(const NameValueList& query);

// "20130524T000000Z" (UTC).
std::string format_amz_date(std::chrono::system_clock::time_point when);

}  // namespace imageflex
