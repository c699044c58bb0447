#include "storage/s3_config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>
#include <stdexcept>
#include <string_view>

#include "common/text.h"

namespace imageflex {
namespace {

struct Endpoint {
  std::string scheme;  // "http" or "https"
  std::string host;    // "127.0.0.1", "[::1]", "s3.eu-west-1.amazonaws.com"
  std::string port;    // empty when not given
};

// Letters, digits, '.', '-' and '_': what may stand in a host name (and so in a
// bucket name, which virtual-hosted addressing puts there) without encoding.
bool host_name_safe(std::string_view name) {
  return std::all_of(name.begin(), name.end(),
                     [](unsigned char c) { return std::isalnum(c) || c == '.' || c == '-' || c == '_'; });
}

bool valid_bucket_name(std::string_view bucket) {
  // AWS allows [a-z0-9.-]; other S3 stores also accept upper case and '_'. Anything
  // beyond that would need encoding in a host name or break the URL, so refuse it.
  return !bucket.empty() && bucket.size() <= 255 && host_name_safe(bucket);
}

bool valid_region(std::string_view region) {
  return !region.empty() && std::all_of(region.begin(), region.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '_';
  });
}

std::optional<unsigned> parse_port(std::string_view text) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value == 0 || value > 65535) {
    return std::nullopt;
  }
  return value;
}

// Parses "scheme://host[:port][/]".
Endpoint parse_endpoint(std::string_view url) {
  const auto fail = [&](std::string_view why) {
    return std::invalid_argument("invalid s3-endpoint (IF_S3_ENDPOINT): must be http(s)://HOST[:PORT] (" +
                                 std::string(why) + "): '" + std::string(url) + "'");
  };
  Endpoint endpoint;
  const std::size_t separator = url.find("://");
  if (separator == std::string_view::npos) throw fail("no scheme");
  endpoint.scheme = to_lower(url.substr(0, separator));
  if (endpoint.scheme != "http" && endpoint.scheme != "https") throw fail("unknown scheme");
  std::string_view authority = url.substr(separator + 3);
  if (!authority.empty() && authority.back() == '/') authority.remove_suffix(1);
  if (authority.find_first_of("/?#@ ") != std::string_view::npos) {
    throw fail("no path, query or user allowed");
  }
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {  // IPv6 literal
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) throw fail("unclosed '['");
    endpoint.host = std::string(authority.substr(0, close + 1));
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') throw fail("junk after ']'");
      port = rest.substr(1);
    }
  } else {
    const std::size_t colon = authority.find(':');
    endpoint.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    if (!host_name_safe(endpoint.host)) throw fail("bad host");
  }
  if (endpoint.host.empty() || endpoint.host == "[]") throw fail("no host");
  if (!port.empty() || authority.back() == ':') {
    const auto number = parse_port(port);
    if (!number) throw fail("bad port");
    endpoint.port = std::to_string(*number);
  }
  return endpoint;
}

}  // namespace

S3Config s3_config_from(const std::string& storage_url, const S3Settings& settings) {
  constexpr std::string_view kScheme = "s3://";
  if (storage_url.compare(0, kScheme.size(), kScheme) != 0) {
    throw std::invalid_argument("storage URL must be s3://BUCKET[/PREFIX]: '" + storage_url + "'");
  }
  S3Config config;
  const std::string_view rest = std::string_view(storage_url).substr(kScheme.size());
  const std::size_t slash = rest.find('/');
  config.bucket = std::string(rest.substr(0, slash));
  if (slash != std::string_view::npos) config.prefix = std::string(rest.substr(slash));
  config.endpoint = settings.endpoint;
  config.spool_dir = settings.spool_dir;
  config.region = !settings.region.empty()           ? settings.region
                  : !settings.default_region.empty() ? settings.default_region
                                                     : "us-east-1";
  config.path_style = settings.addressing.empty()
                          ? !config.endpoint.empty() || config.bucket.find('.') != std::string::npos
                          : settings.addressing == "path";
  return config;
}

S3Address check_s3_config(const S3Config& config) {
  if (!valid_bucket_name(config.bucket)) {
    throw std::invalid_argument("S3 bucket name (storage s3://BUCKET) is missing or invalid: '" +
                                config.bucket + "'");
  }
  if (!valid_region(config.region)) {
    throw std::invalid_argument("invalid s3-region (AWS_REGION): not a region name: '" + config.region + "'");
  }
  const Endpoint endpoint = parse_endpoint(
      config.endpoint.empty() ? "https://s3." + config.region + ".amazonaws.com" : config.endpoint);
  S3Address address;
  address.scheme = endpoint.scheme;
  address.host_header = config.path_style ? endpoint.host : config.bucket + "." + endpoint.host;
  // curl leaves a default port out of Host; we send our own Host, so do the same.
  const bool default_port = (endpoint.scheme == "http" && endpoint.port == "80") ||
                            (endpoint.scheme == "https" && endpoint.port == "443");
  if (!endpoint.port.empty() && !default_port) address.host_header += ":" + endpoint.port;
  return address;
}

}  // namespace imageflex
