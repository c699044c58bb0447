#include "storage/sigv4.h"

#include <algorithm>
#include <ctime>
#include <map>
#include <stdexcept>

#include "common/hash.h"
#include "common/text.h"

namespace imageflex {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

// Canonical header value: leading and trailing blanks removed, inner runs of blanks
// collapsed to one space, as the SigV4 specification requires.
std::string canonical_header_value(std::string_view value) {
  std::string out;
  bool pending_space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

bool is_signer_owned(std::string_view lower_name) {
  return lower_name == "x-amz-date" || lower_name == "x-amz-content-sha256" ||
         lower_name == "x-amz-security-token" || lower_name == "authorization";
}

}  // namespace

std::string uri_encode(std::string_view text, bool encode_slash) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                            c == '-' || c == '_' || c == '.' || c == '~';
    if (unreserved || (c == '/' && !encode_slash)) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kDigits[c >> 4]);
      out.push_back(kDigits[c & 0x0f]);
    }
  }
  return out;
}

std::string canonical_query_string(const NameValueList& query) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(query.size());
  for (const auto& [name, value] : query) {
    encoded.emplace_back(uri_encode(name, true), uri_encode(value, true));
  }
  // Sorting the encoded forms by byte value is what AWS specifies.
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out.push_back('&');
    out += name;
    out.push_back('=');
    out += value;
  }
  return out;
}

std::string format_amz_date(std::chrono::system_clock::time_point when) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(when);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[32];
  const std::size_t length = std::strftime(buffer, sizeof buffer, "%Y%m%dT%H%M%SZ", &utc);
  return std::string(buffer, length);
}

SigV4Result sign_v4(const SigV4Request& request, std::string_view region, std::string_view service,
                    const AwsCredentials& credentials, std::chrono::system_clock::time_point when) {
  const std::string amz_date = format_amz_date(when);
  const std::string date = amz_date.substr(0, 8);  // YYYYMMDD

  SigV4Result result;
  result.headers.emplace_back("x-amz-date", amz_date);
  result.headers.emplace_back("x-amz-content-sha256", request.payload_sha256);
  if (!credentials.session_token.empty()) {
    result.headers.emplace_back("x-amz-security-token", credentials.session_token);
  }

  // Lower-case names, sorted; a repeated header's values are joined with ','.
  std::map<std::string, std::string> canonical_headers;
  auto add_header = [&](std::string_view name, std::string_view value) {
    std::string& slot = canonical_headers[to_lower(name)];
    if (!slot.empty()) slot.push_back(',');
    slot += canonical_header_value(value);
  };
  for (const auto& [name, value] : request.headers) {
    if (!is_signer_owned(to_lower(name))) add_header(name, value);
  }
  if (canonical_headers.find("host") == canonical_headers.end()) {
    throw std::invalid_argument("SigV4: the request has no host header");
  }
  for (const auto& [name, value] : result.headers) add_header(name, value);

  std::string headers_block;
  std::string signed_headers;
  for (const auto& [name, value] : canonical_headers) {
    headers_block.append(name).append(":").append(value).append("\n");
    if (!signed_headers.empty()) signed_headers.push_back(';');
    signed_headers += name;
  }

  result.canonical_request = request.method + "\n" + request.canonical_uri + "\n" +
                             canonical_query_string(request.query) + "\n" + headers_block + "\n" +
                             signed_headers + "\n" + request.payload_sha256;

  const std::string scope = date + "/" + std::string(region) + "/" + std::string(service) + "/aws4_request";
  result.string_to_sign =
      std::string(kAlgorithm) + "\n" + amz_date + "\n" + scope + "\n" + sha256_hex(result.canonical_request);

  const std::string date_key = hmac_sha256("AWS4" + credentials.secret_key, date);
  const std::string region_key = hmac_sha256(date_key, region);
  const std::string service_key = hmac_sha256(region_key, service);
  const std::string signing_key = hmac_sha256(service_key, "aws4_request");
  const std::string signature = hmac_sha256(signing_key, result.string_to_sign);
  result.signature = hex_encode(reinterpret_cast<const unsigned char*>(signature.data()), signature.size());

  // The access key goes in whole: a ':' in it (Swift "account:user") is legal here.
  result.headers.emplace_back(
      "Authorization", std::string(kAlgorithm) + " Credential=" + credentials.access_key + "/" + scope +
                           ", SignedHeaders=" + signed_headers + ", Signature=" + result.signature);
  return result;
}

}  // namespace imageflex
