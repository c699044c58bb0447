#include "storage/s3_client.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <exception>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "common/hash.h"
#include "common/text.h"
#include "storage/curl_util.h"
#include "storage/open_file.h"

namespace imageflex {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr std::size_t kMaxErrorBody = std::size_t{16} * 1024;  // enough for any S3 error document
constexpr std::size_t kMaxIdleHandles = 64;
constexpr std::uint64_t kMaxReserve = std::uint64_t{256} << 20;
constexpr long kBackoffBaseMs = 50;
constexpr long kBackoffCapMs = 1000;

std::optional<std::uint64_t> parse_uint(std::string_view text) {
  text = trim(text);
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
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

// Per-attempt state the curl callbacks write into.
struct Transfer {
  std::string_view upload;
  std::size_t upload_offset = 0;
  std::uint64_t max_body = UINT64_MAX;
  std::uint64_t spool_above = UINT64_MAX;
  const std::string* spool_dir = nullptr;
  long header_status = 0;  // status of the response whose headers are being read
  bool success_status = false;
  std::map<std::string, std::string>* headers = nullptr;
  std::string* body = nullptr;
  UniqueFd* spooled = nullptr;
  std::optional<std::uint64_t> declared;  // the success response's Content-Length, if any
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
    transfer.declared.reset();
    return length;
  }

  if (trim(line).empty()) {
    // End of the header block: refuse an oversized body before any of it arrives.
    if (transfer.success_status) {
      const auto found = transfer.headers->find("content-length");
      if (found != transfer.headers->end()) {
        transfer.declared = parse_uint(found->second);
        if (transfer.declared && *transfer.declared > transfer.max_body) {
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
    const bool large = transfer.body_seen > transfer.spool_above ||
                       (transfer.declared && *transfer.declared > transfer.spool_above);
    if (large && !transfer.spooled->valid()) {
      // To a file from here on (what came before with it), at the store's pace: the object
      // is never whole in memory, and a failed attempt's file goes with its descriptor.
      *transfer.spooled = open_spool_file(*transfer.spool_dir);
      write_all(transfer.spooled->get(), transfer.body->data(), transfer.body->size());
      std::string().swap(*transfer.body);
    }
    if (transfer.spooled->valid()) {
      write_all(transfer.spooled->get(), data, length);
      return length;
    }
    if (transfer.body->empty() && transfer.declared) {
      // One allocation for the whole object (capped, in case the length is absurd).
      transfer.body->reserve(static_cast<std::size_t>(std::min(*transfer.declared, kMaxReserve)));
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

}  // namespace

// ---- public helpers --------------------------------------------------------------

std::string s3_error_code(std::string_view body) {
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

std::string s3_failure_reason(long status, std::string_view body) {
  const std::string code = s3_error_code(body);
  return "HTTP " + std::to_string(status) + (code.empty() ? "" : " " + code);
}

Error store_unavailable(const std::string& what) {
  return Error(ErrorKind::kStoreUnavailable, "storage unavailable: " + what);
}

// ---- the curl handle pool ---------------------------------------------------------

// Idle handles keep their connections (curl_easy_reset leaves the connection cache
// alone), so a pool of handles is a pool of keep-alive connections.
class S3Client::HandlePool {
 public:
  HandlePool() = default;
  HandlePool(const HandlePool&) = delete;
  HandlePool& operator=(const HandlePool&) = delete;

  CurlEasy acquire() {
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        CurlEasy handle = std::move(idle_.back());
        idle_.pop_back();
        return handle;
      }
    }
    CurlEasy handle(curl_easy_init());
    if (!handle) throw store_unavailable("cannot create a client");
    return handle;
  }

  void release(CurlEasy handle) {
    curl_easy_reset(handle.get());
    std::lock_guard lock(mutex_);
    // Beyond the cap the handle (and its connection) is simply dropped.
    if (idle_.size() < kMaxIdleHandles) idle_.push_back(std::move(handle));
  }

 private:
  std::mutex mutex_;
  std::vector<CurlEasy> idle_;
};

// ---- one attempt -------------------------------------------------------------------

struct S3Client::Attempt {
  CURLcode curl_code = CURLE_OK;
  S3Response response;
};

S3Client::S3Client(const S3Config& config, std::shared_ptr<AwsCredentialsProvider> credentials)
    : config_(config),
      address_(check_s3_config(config_)),
      credentials_(std::move(credentials)),
      pool_(std::make_unique<HandlePool>()) {
  init_curl();
  if (config_.spool_dir.empty()) config_.spool_dir = "/tmp";
  try {
    open_spool_file(config_.spool_dir);  // a folder that cannot take one stops the server at start
  } catch (const Error& error) {
    throw std::invalid_argument("invalid s3-spool-dir (IF_S3_SPOOL_DIR): " + std::string(error.what()));
  }
  const AwsCredentials first = credentials_->get();
  if (first.access_key.empty() || first.secret_key.empty()) {
    throw std::invalid_argument("S3 credentials are missing (access key and secret key)");
  }
}

S3Client::~S3Client() = default;

std::string S3Client::canonical_uri(const std::string& path) const {
  // S3 encodes the key once, keeping '/' (unlike other services, no double encoding).
  std::string uri = config_.path_style ? "/" + uri_encode(config_.bucket, true) : "";
  if (!path.empty() || uri.empty()) uri += "/" + uri_encode(path, false);
  return uri;
}

S3Client::Attempt S3Client::send_once(const S3Request& request, const std::string& payload_sha256,
                                      long budget_ms) {
  Attempt attempt;
  S3Response& response = attempt.response;
  Transfer transfer;
  transfer.upload = request.body;
  transfer.max_body = request.max_body;
  transfer.spool_above = request.spool_above;
  transfer.spool_dir = &config_.spool_dir;
  transfer.headers = &response.headers;
  transfer.body = &response.body;
  transfer.spooled = &response.spooled;

  const std::string uri = canonical_uri(request.path);
  const std::string query = canonical_query_string(request.query);
  const std::string url =
      address_.scheme + "://" + address_.host_header + uri + (query.empty() ? "" : "?" + query);

  SigV4Request to_sign;
  to_sign.method = request.method;
  to_sign.canonical_uri = uri;
  to_sign.query = request.query;
  to_sign.headers.emplace_back("host", address_.host_header);
  for (const auto& header : request.headers) to_sign.headers.push_back(header);
  to_sign.payload_sha256 = payload_sha256;
  // Asked at every attempt: temporary credentials may have been refreshed meanwhile.
  const SigV4Result signature =
      sign_v4(to_sign, config_.region, "s3", credentials_->get(), std::chrono::system_clock::now());

  HeaderList headers;
  headers.add("Host", address_.host_header);
  for (const auto& [name, value] : request.headers) headers.add(name, value);
  for (const auto& [name, value] : signature.headers) headers.add(name, value);
  headers.suppress("Expect");  // no 100-continue round trip before a PUT body

  struct Lease {
    HandlePool& pool;
    CurlEasy handle;
    ~Lease() { pool.release(std::move(handle)); }
  } lease{*pool_, pool_->acquire()};
  CURL* curl = lease.handle.get();

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

  attempt.curl_code = curl_easy_perform(curl);
  if (transfer.error) std::rethrow_exception(transfer.error);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  response.too_large = transfer.too_large;
  response.body_seen = transfer.body_seen;
  return attempt;
}

S3Response S3Client::send(const S3Request& request) {
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

    Attempt result = send_once(request, payload_sha256, budget_ms);
    S3Response& response = result.response;
    ++attempts;
    if (response.too_large) return std::move(response);
    if (result.curl_code == CURLE_OK) {
      // 429: S3-compatible stores (MinIO, Ceph, R2) throttle with it where AWS says 503 SlowDown.
      if (response.status < 500 && response.status != 429) return std::move(response);
      last_failure = s3_failure_reason(response.status, response.body);
    } else {
      // curl's generic message names no host; the detailed error buffer would.
      last_failure = curl_easy_strerror(result.curl_code);
      if (!retryable(result.curl_code)) break;
    }

    if (attempt >= config_.max_retries) break;
    const milliseconds delay = backoff_delay(attempt);
    if (has_deadline && delay.count() >= remaining_ms()) break;
    std::this_thread::sleep_for(delay);
  }
  throw store_unavailable(last_failure + " after " + std::to_string(attempts) +
                          (attempts == 1 ? " attempt" : " attempts"));
}

}  // namespace imageflex
