// Fuzz target: SigV4 canonicalisation of arbitrary object keys and query strings. The
// input is lines: the first an object key, each further one a query parameter
// "name=value" (decoded, as the S3 client passes them). Invariants: no crash; encodings
// hold only unreserved characters and %XX escapes (upper-case hex) and decode back to
// their input; the canonical query has one "name=value" per parameter, sorted by name then
// value; signing a
// request with a host header never throws and puts exactly those parts in the canonical
// request.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "request/image_request.h"  // percent_decode
#include "storage/sigv4.h"

namespace imageflex {
namespace {

bool unreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.' || c == '~';
}

bool upper_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

// Unreserved characters, '/' if allowed, and well-formed escapes: nothing else.
bool well_encoded(std::string_view encoded, bool slash_allowed) {
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    const char c = encoded[i];
    if (unreserved(c) || (c == '/' && slash_allowed)) continue;
    if (c != '%' || i + 2 >= encoded.size() || !upper_hex(encoded[i + 1]) || !upper_hex(encoded[i + 2]))
      return false;
    i += 2;
  }
  return true;
}

void check_encoding(std::string_view text) {
  for (const bool encode_slash : {false, true}) {
    const std::string encoded = uri_encode(text, encode_slash);
    FUZZ_CHECK(well_encoded(encoded, !encode_slash));
    FUZZ_CHECK(encoded.size() <= 3 * text.size());
    FUZZ_CHECK(percent_decode(encoded, false) == std::string(text));
  }
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (true) {
    const auto end = text.find('\n', start);
    lines.push_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return lines;
    start = end + 1;
  }
}

}  // namespace
}  // namespace imageflex

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace imageflex;
  const auto lines = split_lines(std::string_view(reinterpret_cast<const char*>(data), size));
  const std::string_view key = lines.front();
  NameValueList query;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const auto equals = lines[i].find('=');
    query.emplace_back(std::string(lines[i].substr(0, equals)),
                       equals == std::string_view::npos ? "" : std::string(lines[i].substr(equals + 1)));
  }

  check_encoding(key);
  for (const auto& [name, value] : query) {
    check_encoding(name);
    check_encoding(value);
  }

  // One name=value per parameter, each well encoded, sorted; decoded, the same multiset.
  const std::string canonical = canonical_query_string(query);
  std::vector<std::pair<std::string, std::string>> decoded;
  std::vector<std::pair<std::string, std::string>> encoded;  // as they stand, for the order
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (!canonical.empty() && start <= canonical.size()) {
    auto end = canonical.find('&', start);
    if (end == std::string::npos) end = canonical.size();
    parts.push_back(canonical.substr(start, end - start));
    start = end + 1;
  }
  FUZZ_CHECK(parts.size() == query.size());
  for (const auto& part : parts) {
    FUZZ_CHECK(std::count(part.begin(), part.end(), '=') == 1);
    const auto equals = part.find('=');
    FUZZ_CHECK(well_encoded(part.substr(0, equals), false) && well_encoded(part.substr(equals + 1), false));
    encoded.emplace_back(part.substr(0, equals), part.substr(equals + 1));
    decoded.emplace_back(*percent_decode(part.substr(0, equals), false),
                         *percent_decode(part.substr(equals + 1), false));
  }
  FUZZ_CHECK(std::is_sorted(encoded.begin(), encoded.end()));  // by name, then value
  auto expected = query;
  std::sort(expected.begin(), expected.end());
  std::sort(decoded.begin(), decoded.end());
  FUZZ_CHECK(decoded == expected);

  // Signing: the canonical request starts with exactly the encoded parts.
  SigV4Request request;
  request.method = "GET";
  request.canonical_uri = "/bucket/" + uri_encode(key, false);
  request.query = query;
  request.headers = {{"Host", "s3.example.test"},
                     {std::string(key), query.empty() ? "" : query.front().second}};
  request.payload_sha256 = std::string(kEmptyPayloadSha256);
  const AwsCredentials credentials{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
  SigV4Result signed_request;
  fuzz::only_error_escapes([&] {
    signed_request =
        sign_v4(request, "us-east-1", "s3", credentials, std::chrono::system_clock::time_point{});
  });
  FUZZ_CHECK(signed_request.canonical_request.rfind("GET\n" + request.canonical_uri + "\n" + canonical + "\n",
                                                    0) == 0);
  FUZZ_CHECK(signed_request.signature.size() == 64 &&
             std::all_of(signed_request.signature.begin(), signed_request.signature.end(),
                         [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }));
  return 0;
}
