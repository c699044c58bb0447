#include "storage/s3_storage.h"

#include "common/text.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "common/error.h"

namespace imageflex {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr std::string_view kMetaPrefix = "x-amz-meta-";
constexpr std::size_t kMaxErrorBody = std::size_t{16} * 1024;  // enough for any S3 error document
constexpr std::size_t kMaxIdleHandles = 64;
constexpr std::uint64_t kMaxReserve = std::uint64_t{256} << 20;
constexpr long kBackoffBaseMs = 50;
constexpr long kBackoffCapMs = 1000;

std::string get_env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

std::optional<std::uint64_t> parse_uint(std::string_view text) {
  text = trim(text);
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// ---- configuration ---------------------------------------------------------------

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

// Parses "scheme://host[:port][/]"; `setting` names where the value came from so
// that the message points at what to fix.
Endpoint parse_endpoint(std::string_view url, std::string_view setting) {
  const auto fail = [&](std::string_view why) {
    return std::invalid_argument(std::string(setting) + " must be http(s)://HOST[:PORT] (" +
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
    const auto number = parse_uint(port);
    if (!number || *number == 0 || *number > 65535) throw fail("bad port");
    endpoint.port = std::to_string(*number);
  }
  return endpoint;
}

// Reads one section of an AWS shared credentials file (INI). nullopt if the file
// cannot be opened; an empty map if the section is absent.
std::optional<std::map<std::string, std::string>> read_ini_section(const std::string& path,
                                                                   const std::string& section) {
  std::ifstream file(path);
  if (!file) return std::nullopt;
  std::map<std::string, std::string> values;
  std::string current;
  std::string line;
  while (std::getline(file, line)) {
    const std::string_view text = trim(line);
    if (text.empty() || text.front() == '#' || text.front() == ';') continue;
    if (text.front() == '[' && text.back() == ']') {
      current = std::string(trim(text.substr(1, text.size() - 2)));
      continue;
    }
    const std::size_t equals = text.find('=');
    if (current != section || equals == std::string_view::npos) continue;
    values[to_lower(trim(text.substr(0, equals)))] = std::string(trim(text.substr(equals + 1)));
  }
  return values;
}

void load_credentials(S3Config& config) {
  const std::string access_key = get_env("AWS_ACCESS_KEY_ID");
  const std::string secret_key = get_env("AWS_SECRET_ACCESS_KEY");
  if (!access_key.empty() || !secret_key.empty()) {
    if (access_key.empty()) {
      throw std::invalid_argument("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not");
    }
    if (secret_key.empty()) {
      throw std::invalid_argument("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
    }
    config.access_key = access_key;
    config.secret_key = secret_key;
    config.session_token = get_env("AWS_SESSION_TOKEN");
    return;
  }

  std::string path = get_env("AWS_SHARED_CREDENTIALS_FILE");
  const bool path_from_env = !path.empty();
  if (!path_from_env) {
    const std::string home = get_env("HOME");
    if (home.empty()) {
      throw std::invalid_argument(
          "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (HOME is unset, "
          "so there is no ~/.aws/credentials)");
    }
    path = home + "/.aws/credentials";
  }
  std::string profile = get_env("AWS_PROFILE");
  if (profile.empty()) profile = "default";

  const auto section = read_ini_section(path, profile);
  if (!section) {
    if (path_from_env) {
      throw std::invalid_argument("AWS_SHARED_CREDENTIALS_FILE: cannot read '" + path + "'");
    }
    throw std::invalid_argument(
        "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or create " + path);
  }
  const auto value = [&](const char* name) {
    const auto found = section->find(name);
    return found == section->end() ? std::string() : found->second;
  };
  config.access_key = value("aws_access_key_id");
  config.secret_key = value("aws_secret_access_key");
  config.session_token = value("aws_session_token");
  if (config.access_key.empty() || config.secret_key.empty()) {
    throw std::invalid_argument("no S3 credentials: profile [" + profile + "] in " + path +
                                " (AWS_PROFILE) needs aws_access_key_id and "
                                "aws_secret_access_key");
  }
}

// ---- responses -----------------------------------------------------------------

// The <Code> of an S3 error document, kept only if it looks like one (letters and
// digits), so that a reason never carries arbitrary server text.
std::string error_code(std::string_view body) {
  const std::size_t open = body.find("<Code>");
  if (open == std::string_view::npos) return {};
  const std::size_t start = open + 6;
  const std::size_t close = body.find("</Code>", start);
  if (close == std::string_view::npos || close - start > 64) return {};
  const std::string_view code = body.substr(start, close - start);
  const bool plain =
      std::all_of(code.begin(), code.end(), [](unsigned char c) { return std::isalnum(c) != 0; });
  return plain ? std::string(code) : std::string();
}

std::string strip_quotes(std::string_view etag) {
  etag = trim(etag);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  return std::string(etag);
}

// ETags travel quoted in If-Match / If-None-Match; ours are stored without quotes.
std::string quote_etag(std::string_view etag) {
  if (etag == "*" || (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') ||
      etag.substr(0, 2) == "W/") {
    return std::string(etag);
  }
  return "\"" + std::string(etag) + "\"";
}

ObjectInfo info_from_headers(const std::map<std::string, std::string>& headers) {
  ObjectInfo info;
  for (const auto& [name, value] : headers) {
    if (name == "etag") {
      info.etag = strip_quotes(value);
    } else if (name == "content-length") {
      info.size = parse_uint(value).value_or(0);
    } else if (name == "last-modified") {
      info.last_modified = parse_http_date(value).value_or(0);
    } else if (name == "content-type") {
      info.content_type = value;
    } else if (name.size() > kMetaPrefix.size() && name.compare(0, kMetaPrefix.size(), kMetaPrefix) == 0) {
      info.metadata[name.substr(kMetaPrefix.size())] = value;
    }
  }
  return info;
}

bool retryable(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM: return true;
    default: return false;
  }
}

// Full jitter (uniform in [0, min(cap, base * 2^attempt)]) spreads the retries of
// many threads that failed together, instead of having them return in lockstep.
milliseconds backoff_delay(int attempt) {
  thread_local std::mt19937 generator{std::random_device{}()};
  const long ceiling = std::min(kBackoffCapMs, kBackoffBaseMs << std::min(attempt, 10));
  return milliseconds(std::uniform_int_distribution<long>(0, ceiling)(generator));
}

// Header names and values go into raw header lines: refuse anything that could split
// a line or that S3 would not keep (user metadata is ASCII).
bool valid_header_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::islower(c) || std::isdigit(c) || c == '-' || c == '_';
  });
}

bool valid_header_value(std::string_view value) {
  return std::all_of(value.begin(), value.end(), [](unsigned char c) { return c >= 0x20 && c < 0x7f; });
}

}  // namespace

// ---- public helpers --------------------------------------------------------------

std::optional<std::int64_t> parse_http_date(std::string_view text) {
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::string input(trim(text));
  int day = 0, year = 0, hour = 0, minute = 0, second = 0, consumed = 0;
  char month_name[4] = {};
  char zone[4] = {};
  const int fields = std::sscanf(input.c_str(), "%*3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d %3s%n", &day,
                                 month_name, &year, &hour, &minute, &second, zone, &consumed);
  if (fields != 7 || static_cast<std::size_t>(consumed) != input.size() || std::string_view(zone) != "GMT") {
    return std::nullopt;
  }
  int month = -1;
  for (int i = 0; i < 12; ++i) {
    if (std::string_view(month_name) == kMonths[i]) month = i;
  }
  if (month < 0 || day < 1 || day > 31 || year < 1970 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  std::tm utc{};
  utc.tm_year = year - 1900;
  utc.tm_mon = month;
  utc.tm_mday = day;
  utc.tm_hour = hour;
  utc.tm_min = minute;
  utc.tm_sec = second;
  return static_cast<std::int64_t>(timegm(&utc));
}

S3Config s3_config_from_environment(const std::string& storage_url) {
  constexpr std::string_view kScheme = "s3://";
  if (storage_url.compare(0, kScheme.size(), kScheme) != 0) {
    throw std::invalid_argument("storage URL must be s3://BUCKET[/PREFIX]: '" + storage_url + "'");
  }
  S3Config config;
  std::string_view rest = std::string_view(storage_url).substr(kScheme.size());
  const std::size_t slash = rest.find('/');
  config.bucket = std::string(rest.substr(0, slash));
  if (config.bucket.empty()) {
    throw std::invalid_argument("storage URL has no bucket (want s3://BUCKET[/PREFIX]): '" + storage_url +
                                "'");
  }
  if (!valid_bucket_name(config.bucket)) {
    throw std::invalid_argument("storage URL has an invalid bucket name: '" + storage_url + "'");
  }
  if (slash != std::string_view::npos) {
    std::string_view prefix = rest.substr(slash);
    while (!prefix.empty() && prefix.front() == '/') prefix.remove_prefix(1);
    while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
    config.prefix = std::string(prefix);
  }

  config.endpoint = get_env("IF_S3_ENDPOINT");
  if (!config.endpoint.empty()) parse_endpoint(config.endpoint, "IF_S3_ENDPOINT");

  config.region = get_env("AWS_REGION");
  if (config.region.empty()) config.region = get_env("AWS_DEFAULT_REGION");
  if (config.region.empty()) config.region = "us-east-1";
  if (!valid_region(config.region)) {
    throw std::invalid_argument("AWS_REGION is not a region name: '" + config.region + "'");
  }

  const std::string addressing = get_env("IF_S3_ADDRESSING");
  if (addressing == "path") {
    config.path_style = true;
  } else if (addressing == "virtual") {
    config.path_style = false;
  } else if (addressing.empty()) {
    // A custom endpoint (Swift, MinIO, a loopback test server) rarely has wildcard
    // DNS for bucket names; AWS prefers virtual hosts, except for dotted bucket names
    // that the *.s3 certificate does not cover.
    config.path_style = !config.endpoint.empty() || config.bucket.find('.') != std::string::npos;
  } else {
    throw std::invalid_argument("IF_S3_ADDRESSING must be 'path' or 'virtual', not '" + addressing + "'");
  }

  load_credentials(config);
  return config;
}

// ---- the curl handle pool ---------------------------------------------------------

// Idle handles keep their connections (curl_easy_reset leaves the connection cache
// alone), so a pool of handles is a pool of keep-alive connections.
class S3Storage::HandlePool {
 public:
  HandlePool() = default;
  HandlePool(const HandlePool&) = delete;
  HandlePool& operator=(const HandlePool&) = delete;
  ~HandlePool() {
    for (CURL* handle : idle_) curl_easy_cleanup(handle);
  }

  CURL* acquire() {
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        CURL* handle = idle_.back();
        idle_.pop_back();
        return handle;
      }
    }
    CURL* handle = curl_easy_init();
    if (handle == nullptr) {
      throw Error(ErrorKind::kStoreUnavailable, "storage unavailable: cannot create a client");
    }
    return handle;
  }

  void release(CURL* handle) {
    curl_easy_reset(handle);
    {
      std::lock_guard lock(mutex_);
      if (idle_.size() < kMaxIdleHandles) {
        idle_.push_back(handle);
        return;
      }
    }
    curl_easy_cleanup(handle);
  }

 private:
  std::mutex mutex_;
  std::vector<CURL*> idle_;
};

// ---- one request -------------------------------------------------------------------

struct S3Storage::Request {
  Request(std::string method_in, std::string path_in)
      : method(std::move(method_in)), path(std::move(path_in)) {}

  std::string method;     // GET, HEAD, PUT, DELETE
  std::string path;       // object path under the bucket (prefix included); empty: bucket
  NameValueList headers;  // extra headers, sent and signed
  std::string_view body;  // PUT payload
  std::uint64_t max_body = UINT64_MAX;
};

struct S3Storage::Response {
  CURLcode curl_code = CURLE_OK;
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names, of the final response
  std::string body;                            // object bytes (2xx) or the error document
  bool too_large = false;                      // aborted: body over max_body
  std::uint64_t body_seen = 0;                 // body bytes received before the abort
};

namespace {

// Per-attempt state the curl callbacks write into.
struct Transfer {
  std::string_view upload;
  std::size_t upload_offset = 0;
  std::uint64_t max_body = UINT64_MAX;
  long header_status = 0;  // status of the response whose headers are being read
  bool success_status = false;
  std::map<std::string, std::string>* headers = nullptr;
  std::string* body = nullptr;
  bool too_large = false;
  std::uint64_t body_seen = 0;  // success-body bytes received, kept or not
  // An exception must not unwind through curl's C frames: the callbacks park it
  // here, abort the transfer, and it is rethrown after curl_easy_perform.
  std::exception_ptr error;
};

std::size_t read_header(Transfer& transfer, std::string_view line) {
  const std::size_t length = line.size();

  if (line.substr(0, 5) == "HTTP/") {
    // A new response starts (after a 100 Continue, say): forget the previous one.
    transfer.headers->clear();
    const std::size_t space = line.find(' ');
    transfer.header_status = 0;
    if (space != std::string_view::npos) {
      transfer.header_status = static_cast<long>(parse_uint(line.substr(space + 1, 3)).value_or(0));
    }
    transfer.success_status = transfer.header_status >= 200 && transfer.header_status < 300;
    return length;
  }

  if (trim(line).empty()) {
    // End of the header block: refuse an oversized body before any of it arrives.
    if (transfer.success_status) {
      const auto found = transfer.headers->find("content-length");
      if (found != transfer.headers->end()) {
        const auto declared = parse_uint(found->second);
        if (declared && *declared > transfer.max_body) {
          transfer.too_large = true;
          return 0;  // any other count aborts the transfer
        }
      }
    }
    return length;
  }

  const std::size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    const std::string name = to_lower(trim(line.substr(0, colon)));
    const std::string value(trim(line.substr(colon + 1)));
    std::string& slot = (*transfer.headers)[name];
    slot = slot.empty() ? value : slot + "," + value;
  }
  return length;
}

std::size_t read_body(Transfer& transfer, const char* data, std::size_t length) {
  if (transfer.success_status) {
    transfer.body_seen += length;
    // Also enforced here, for responses without a Content-Length (chunked).
    if (transfer.body_seen > transfer.max_body) {
      transfer.too_large = true;
      return 0;
    }
    if (transfer.body->empty()) {
      // One allocation for the whole object (capped, in case the length is absurd).
      const auto found = transfer.headers->find("content-length");
      if (found != transfer.headers->end()) {
        const std::uint64_t declared = parse_uint(found->second).value_or(0);
        transfer.body->reserve(static_cast<std::size_t>(std::min(declared, kMaxReserve)));
      }
    }
    transfer.body->append(data, length);
  } else if (transfer.body->size() < kMaxErrorBody) {
    transfer.body->append(data, std::min(length, kMaxErrorBody - transfer.body->size()));
  }
  return length;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto& transfer = *static_cast<Transfer*>(user);
  try {
    return read_header(transfer, std::string_view(data, size * count));
  } catch (...) {
    transfer.error = std::current_exception();
    return 0;
  }
}

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto& transfer = *static_cast<Transfer*>(user);
  try {
    return read_body(transfer, data, size * count);
  } catch (...) {
    transfer.error = std::current_exception();
    return 0;
  }
}

std::size_t on_upload(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto& transfer = *static_cast<Transfer*>(user);
  const std::size_t chunk = std::min(size * count, transfer.upload.size() - transfer.upload_offset);
  std::copy_n(transfer.upload.data() + transfer.upload_offset, chunk, buffer);
  transfer.upload_offset += chunk;
  return chunk;
}

// curl rewinds the upload when it has to resend it (a reused connection that turned
// out to be closed).
int on_seek(void* user, curl_off_t offset, int origin) {
  auto& transfer = *static_cast<Transfer*>(user);
  if (origin != SEEK_SET || offset < 0 || static_cast<std::uint64_t>(offset) > transfer.upload.size()) {
    return CURL_SEEKFUNC_CANTSEEK;
  }
  transfer.upload_offset = static_cast<std::size_t>(offset);
  return CURL_SEEKFUNC_OK;
}

// Owns a curl_slist for the duration of a transfer.
class HeaderList {
 public:
  HeaderList() = default;
  HeaderList(const HeaderList&) = delete;
  HeaderList& operator=(const HeaderList&) = delete;
  ~HeaderList() { curl_slist_free_all(list_); }

  void add(const std::string& name, const std::string& value) {
    // "Name;" is curl's way to send a header with an empty value.
    append(value.empty() ? name + ";" : name + ": " + value);
  }
  // "Name:" tells curl not to send a header it would otherwise add itself.
  void suppress(const std::string& name) { append(name + ":"); }
  curl_slist* get() const { return list_; }

 private:
  void append(const std::string& line) {
    curl_slist* grown = curl_slist_append(list_, line.c_str());
    if (grown == nullptr) throw std::bad_alloc();
    list_ = grown;
  }

  curl_slist* list_ = nullptr;
};

std::string failure_reason(long status, std::string_view body) {
  const std::string code = error_code(body);
  return "HTTP " + std::to_string(status) + (code.empty() ? "" : " " + code);
}

Error unavailable(const std::string& what) {
  return Error(ErrorKind::kStoreUnavailable, "storage unavailable: " + what);
}

}  // namespace

// ---- S3Storage ----------------------------------------------------------------------

S3Storage::S3Storage(S3Config config) : config_(std::move(config)), pool_(std::make_unique<HandlePool>()) {
  static std::once_flag curl_initialized;
  std::call_once(curl_initialized, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });

  if (!valid_bucket_name(config_.bucket)) {
    throw std::invalid_argument("S3 bucket name is missing or invalid: '" + config_.bucket + "'");
  }
  if (!valid_region(config_.region)) {
    throw std::invalid_argument("S3 region is invalid: '" + config_.region + "'");
  }
  if (config_.access_key.empty() || config_.secret_key.empty()) {
    throw std::invalid_argument("S3 credentials are missing (access key and secret key)");
  }
  while (!config_.prefix.empty() && config_.prefix.back() == '/') config_.prefix.pop_back();
  while (!config_.prefix.empty() && config_.prefix.front() == '/') config_.prefix.erase(0, 1);

  const std::string endpoint_url =
      config_.endpoint.empty() ? "https://s3." + config_.region + ".amazonaws.com" : config_.endpoint;
  const Endpoint endpoint = parse_endpoint(endpoint_url, "S3 endpoint");
  scheme_ = endpoint.scheme;
  host_header_ = config_.path_style ? endpoint.host : config_.bucket + "." + endpoint.host;
  // curl leaves a default port out of Host; we send our own Host, so do the same.
  const bool default_port =
      (scheme_ == "http" && endpoint.port == "80") || (scheme_ == "https" && endpoint.port == "443");
  if (!endpoint.port.empty() && !default_port) host_header_ += ":" + endpoint.port;

  credentials_ = {config_.access_key, config_.secret_key, config_.session_token};
}

S3Storage::~S3Storage() = default;

std::string S3Storage::describe() const {
  return "s3://" + config_.bucket + (config_.prefix.empty() ? "" : "/" + config_.prefix);
}

std::string S3Storage::object_path(const std::string& key) const {
  if (key.empty()) {
    // An empty key would address the bucket itself (a GET would list it).
    throw Error(ErrorKind::kInternal, "S3 storage: empty key");
  }
  return config_.prefix.empty() ? key : config_.prefix + "/" + key;
}

std::string S3Storage::canonical_uri(const std::string& path) const {
  // S3 encodes the key once, keeping '/' (unlike other services, no double encoding).
  std::string uri = config_.path_style ? "/" + uri_encode(config_.bucket, true) : "";
  if (!path.empty() || uri.empty()) uri += "/" + uri_encode(path, false);
  return uri;
}

S3Storage::Response S3Storage::send_once(const Request& request, const std::string& payload_sha256,
                                         long budget_ms) {
  Response response;
  Transfer transfer;
  transfer.upload = request.body;
  transfer.max_body = request.max_body;
  transfer.headers = &response.headers;
  transfer.body = &response.body;

  const std::string uri = canonical_uri(request.path);
  const std::string url = scheme_ + "://" + host_header_ + uri;

  SigV4Request to_sign;
  to_sign.method = request.method;
  to_sign.canonical_uri = uri;
  to_sign.headers.emplace_back("host", host_header_);
  for (const auto& header : request.headers) to_sign.headers.push_back(header);
  to_sign.payload_sha256 = payload_sha256;
  const SigV4Result signature =
      sign_v4(to_sign, config_.region, "s3", credentials_, std::chrono::system_clock::now());

  HeaderList headers;
  headers.add("Host", host_header_);
  for (const auto& [name, value] : request.headers) headers.add(name, value);
  for (const auto& [name, value] : signature.headers) headers.add(name, value);
  headers.suppress("Expect");  // no 100-continue round trip before a PUT body

  struct Lease {
    HandlePool& pool;
    CURL* handle;
    ~Lease() { pool.release(handle); }
  } lease{*pool_, pool_->acquire()};
  CURL* curl = lease.handle;

  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);  // send the signed path byte for byte
  if (!config_.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, config_.ca_file.c_str());
  curl_easy_setopt(
      curl, CURLOPT_CONNECTTIMEOUT_MS,
      budget_ms > 0 ? std::min(config_.connect_timeout_ms, budget_ms) : config_.connect_timeout_ms);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, budget_ms > 0 ? budget_ms : 0L);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (request.method == "PUT") {
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, on_upload);
    curl_easy_setopt(curl, CURLOPT_READDATA, &transfer);
    curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, on_seek);
    curl_easy_setopt(curl, CURLOPT_SEEKDATA, &transfer);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  } else if (request.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  response.curl_code = curl_easy_perform(curl);
  if (transfer.error) std::rethrow_exception(transfer.error);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  response.too_large = transfer.too_large;
  response.body_seen = transfer.body_seen;
  return response;
}

S3Storage::Response S3Storage::send(const Request& request) {
  const bool has_deadline = config_.total_timeout_ms > 0;
  const auto deadline = steady_clock::now() + milliseconds(config_.total_timeout_ms);
  const auto remaining_ms = [&] {
    return static_cast<long>(
        std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now()).count());
  };

  // Hashed once: a retried PUT sends the same bytes.
  const std::string payload_sha256 =
      request.body.empty() ? std::string(kEmptyPayloadSha256) : sha256_hex(request.body);
  std::string last_failure = "no attempt made";
  int attempts = 0;
  for (int attempt = 0;; ++attempt) {
    const long budget_ms = has_deadline ? remaining_ms() : 0;
    if (has_deadline && budget_ms <= 0) break;

    Response response = send_once(request, payload_sha256, budget_ms);
    ++attempts;
    if (response.too_large) return response;
    if (response.curl_code == CURLE_OK) {
      // 429: S3-compatible stores (MinIO, Ceph, R2) throttle with it where AWS says 503 SlowDown.
      if (response.status < 500 && response.status != 429) return response;
      last_failure = failure_reason(response.status, response.body);
    } else {
      // curl's generic message names no host; the detailed error buffer would.
      last_failure = curl_easy_strerror(response.curl_code);
      if (!retryable(response.curl_code)) break;
    }

    if (attempt >= config_.max_retries) break;
    const milliseconds delay = backoff_delay(attempt);
    if (has_deadline && delay.count() >= remaining_ms()) break;
    std::this_thread::sleep_for(delay);
  }
  throw unavailable(last_failure + " after " + std::to_string(attempts) +
                    (attempts == 1 ? " attempt" : " attempts"));
}

std::optional<ObjectInfo> S3Storage::stat(const std::string& key) {
  const Response response = send(Request("HEAD", object_path(key)));
  if (response.status >= 200 && response.status < 300) return info_from_headers(response.headers);
  // 403 is what S3 answers for a missing key when the reader may not list the bucket.
  if (response.status == 404 || response.status == 403) return std::nullopt;
  throw unavailable("stat: " + failure_reason(response.status, response.body));
}

GetResult S3Storage::get(const std::string& key, const GetOptions& options) {
  Request request{"GET", object_path(key)};
  if (!options.if_match.empty()) {
    request.headers.emplace_back("If-Match", quote_etag(options.if_match));
  }
  if (!options.if_none_match.empty()) {
    request.headers.emplace_back("If-None-Match", quote_etag(options.if_none_match));
  }
  request.max_body = options.max_bytes;
  Response response = send(request);

  GetResult result;
  if (response.too_large) {
    result.status = GetStatus::kTooLarge;
    result.object.info = info_from_headers(response.headers);
    // Without a Content-Length the true size is unknown; report the bytes seen before
    // the abort, which are already past the limit.
    if (response.headers.count("content-length") == 0) {
      result.object.info.size = response.body_seen;
    }
    return result;
  }

  const std::string code = response.status >= 400 ? error_code(response.body) : std::string();
  switch (response.status) {
    case 200:
      result.status = GetStatus::kOk;
      result.object.info = info_from_headers(response.headers);
      result.object.info.size = response.body.size();
      result.object.bytes = std::move(response.body);
      return result;
    case 304:
      result.status = GetStatus::kNotModified;
      result.object.info = info_from_headers(response.headers);
      if (result.object.info.etag.empty()) result.object.info.etag = options.if_none_match;
      return result;
    case 412: result.status = GetStatus::kPreconditionFailed; return result;
    case 404:
      if (code == "NoSuchBucket") throw unavailable("bucket does not exist (404 NoSuchBucket)");
      result.status = GetStatus::kNotFound;
      return result;
    case 403:
      // AccessDenied is how S3 hides a missing key from a reader without list rights;
      // a bad signature, unknown key id or skewed clock is a fault of ours.
      if (code.empty() || code == "AccessDenied") {
        result.status = GetStatus::kNotFound;
        return result;
      }
      throw unavailable("store refused read (403 " + code + ")");
    default: throw unavailable("get: " + failure_reason(response.status, response.body));
  }
}

void S3Storage::put(const std::string& key, std::string_view bytes, const PutOptions& options) {
  Request request{"PUT", object_path(key)};
  const auto add = [&](std::string name, const std::string& value) {
    if (!valid_header_value(value)) {
      throw Error(ErrorKind::kInternal, "S3 put: header value not printable ASCII: " + name);
    }
    request.headers.emplace_back(std::move(name), value);
  };
  if (!options.content_type.empty()) add("Content-Type", options.content_type);
  if (!options.cache_control.empty()) add("Cache-Control", options.cache_control);
  for (const auto& [name, value] : options.metadata) {
    if (!valid_header_name(name)) {
      throw Error(ErrorKind::kInternal, "S3 put: invalid metadata name: " + name);
    }
    add(std::string(kMetaPrefix) + name, value);
  }
  request.body = bytes;  // signed with its SHA-256, so S3 rejects a corrupted upload
  const Response response = send(request);
  if (response.status >= 200 && response.status < 300) return;
  if (response.status == 403) {
    const std::string code = error_code(response.body);
    throw unavailable("store refused write (403" + (code.empty() ? "" : " " + code) + ")");
  }
  throw unavailable("store rejected write (" + failure_reason(response.status, response.body) + ")");
}

void S3Storage::remove(const std::string& key) {
  const Response response = send(Request("DELETE", object_path(key)));
  if ((response.status >= 200 && response.status < 300) || response.status == 404) return;
  if (response.status == 403) {
    const std::string code = error_code(response.body);
    throw unavailable("store refused delete (403" + (code.empty() ? "" : " " + code) + ")");
  }
  throw unavailable("remove: " + failure_reason(response.status, response.body));
}

void S3Storage::create_bucket() {
  Request request{"PUT", ""};
  // us-east-1 is S3's default and rejects an explicit location constraint.
  std::string body;
  if (config_.region != "us-east-1") {
    body =
        "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<LocationConstraint>" +
        config_.region + "</LocationConstraint></CreateBucketConfiguration>";
  }
  request.body = body;
  const Response response = send(request);
  if (response.status >= 200 && response.status < 300) return;
  const std::string code = error_code(response.body);
  if (response.status == 409 &&
      (code == "BucketAlreadyOwnedByYou" || code == "BucketAlreadyExists" || code.empty())) {
    return;
  }
  throw unavailable("create bucket: " + failure_reason(response.status, response.body));
}

}  // namespace imageflex
