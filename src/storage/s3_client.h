// The S3 client: sends one request to the bucket, signed with AWS Signature V4
// (sigv4.h), over a pool of reusable curl handles, retrying what is transient within
// a deadline. It knows HTTP and S3 addressing, not what the answers mean: that is
// s3_storage.h.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/unique_fd.h"
#include "storage/aws_credentials.h"
#include "storage/s3_config.h"
#include "storage/sigv4.h"

namespace imageflex {

struct S3Request {
  S3Request(std::string method_in, std::string path_in)
      : method(std::move(method_in)), path(std::move(path_in)) {}

  std::string method;                   // GET, HEAD, PUT, DELETE
  std::string path;                     // object path under the bucket (prefix included); empty: the bucket
  NameValueList query;                  // decoded query parameters, sent and signed
  NameValueList headers;                // extra headers, sent and signed
  std::string_view body;                // PUT payload
  std::uint64_t max_body = UINT64_MAX;  // a 2xx body beyond this is not read (too_large)
  // A 2xx body beyond this goes to an unnamed file in S3Config::spool_dir (S3Response::spooled)
  // instead of memory, as it arrives: a large object is never whole in memory.
  std::uint64_t spool_above = UINT64_MAX;
};

struct S3Response {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names, of the final response
  std::string body;                            // object bytes (2xx) or the error document
  UniqueFd spooled;                            // or, past spool_above, the file holding them
  bool too_large = false;                      // aborted: body over max_body
  std::uint64_t body_seen = 0;                 // 2xx body bytes received (before the abort, if any)
};

// Thread-safe: any number of threads may send at once. Curl handles (and so their
// open connections) are pooled and reused across calls.
class S3Client {
 public:
  // Checks the config (check_s3_config) and asks for credentials once, so that a
  // wrong setting or no credentials at all stop the server at start. Throws
  // std::invalid_argument naming what to fix.
  S3Client(const S3Config& config, std::shared_ptr<AwsCredentialsProvider> credentials);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  // Sends the request and returns the first answer that is not retried, whatever its
  // status. Connection errors, timeouts, 5xx and 429 are retried up to max_retries
  // times with full-jitter exponential backoff, all within total_timeout_ms; then
  // throws kStoreUnavailable. 4xx are never retried.
  S3Response send(const S3Request& request);

 private:
  class HandlePool;
  struct Attempt;

  Attempt send_once(const S3Request& request, const std::string& payload_sha256, long budget_ms);
  std::string canonical_uri(const std::string& path) const;

  S3Config config_;
  S3Address address_;
  std::shared_ptr<AwsCredentialsProvider> credentials_;
  std::unique_ptr<HandlePool> pool_;
};

// The <Code> of an S3 error document, kept only if it looks like one (letters and
// digits), so that a reason never carries arbitrary server text; "" if none.
std::string s3_error_code(std::string_view body);

// "HTTP 503 SlowDown": the status and the error code, if any, for a reason.
std::string s3_failure_reason(long status, std::string_view body);

// The storage-unavailable error every S3 failure becomes (503 with Retry-After).
Error store_unavailable(const std::string& what);

}  // namespace imageflex
