// The S3 backend: objects live in one bucket under an optional key prefix, reached
// over HTTP(S) with libcurl and signed with AWS Signature V4 (sigv4.h). Works with
// AWS S3 and with S3-compatible stores (OpenStack Swift s3api, MinIO, ...).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "storage/sigv4.h"
#include "storage/storage.h"

namespace imageflex {

struct S3Config {
  std::string bucket;
  std::string prefix;    // key prefix without leading or trailing '/'; may be empty
  std::string endpoint;  // "http://127.0.0.1:8080"; empty: https://s3.REGION.amazonaws.com
  std::string region = "us-east-1";
  bool path_style = true;  // true: endpoint/bucket/key; false: bucket.endpoint-host/key
  std::string access_key;
  std::string secret_key;
  std::string session_token;
  std::string ca_file;             // CA bundle for HTTPS (CURLOPT_CAINFO); empty: libcurl's built-in default
  long connect_timeout_ms = 2000;  // per connection attempt
  // Deadline for one storage call, retries and backoff included; each attempt gets
  // what is left of it. <= 0: no deadline (only connect_timeout_ms bounds an attempt).
  long total_timeout_ms = 10000;
  int max_retries = 3;  // extra attempts after the first, for transient failures only
};

// Builds an S3Config from a storage URL "s3://BUCKET[/PREFIX]" and the environment:
//   IF_S3_ENDPOINT       scheme://host[:port], no path; unset: AWS for the region
//   AWS_REGION           falling back to AWS_DEFAULT_REGION, then "us-east-1"
//   IF_S3_ADDRESSING     "path" or "virtual"; unset: path with IF_S3_ENDPOINT, virtual
//                        for AWS (path for AWS buckets with a '.', which break TLS names)
//   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
//   otherwise the shared credentials file (AWS_SHARED_CREDENTIALS_FILE, default
//   ~/.aws/credentials), section [AWS_PROFILE] or [default]: aws_access_key_id,
//   aws_secret_access_key, aws_session_token.
// Throws std::invalid_argument naming the offending setting.
S3Config s3_config_from_environment(const std::string& storage_url);

// An RFC 1123 HTTP date ("Fri, 24 May 2013 00:00:00 GMT") as unix seconds;
// nullopt if it is not one.
std::optional<std::int64_t> parse_http_date(std::string_view text);

// Thread-safe: any number of threads may call it at once. Curl handles (and so
// their open connections) are pooled and reused across calls.
//
// Status mapping, beyond the Storage contract:
//  - a missing key reads as 404 or, for a reader without s3:ListBucket, 403: both
//    are "not found". A GET 403 whose error code is not AccessDenied (bad signature,
//    unknown key id, clock skew, expired token) and a GET 404 NoSuchBucket are
//    configuration faults and throw kStoreUnavailable instead; HEAD has no body to
//    tell them apart, so stat() reports them as not found.
//  - 403 on put/remove throws kStoreUnavailable ("store refused write (403)").
//  - connection errors, timeouts and 5xx are retried up to max_retries times with
//    full-jitter exponential backoff; 4xx never are. Then kStoreUnavailable.
class S3Storage : public Storage {
 public:
  // Throws std::invalid_argument if the config is unusable (no bucket, bad endpoint,
  // no credentials).
  explicit S3Storage(S3Config config);
  ~S3Storage() override;
  S3Storage(const S3Storage&) = delete;
  S3Storage& operator=(const S3Storage&) = delete;

  std::optional<ObjectInfo> stat(const std::string& key) override;
  GetResult get(const std::string& key, const GetOptions& options) override;
  void put(const std::string& key, std::string_view bytes, const PutOptions& options) override;
  void remove(const std::string& key) override;
  std::string describe() const override;

  // Creates the bucket (for tests and first-time setup); one that already exists,
  // ours or not, is not an error: a later put reports a real permission problem.
  void create_bucket();

 private:
  struct Request;
  struct Response;
  class HandlePool;

  Response send(const Request& request);
  Response send_once(const Request& request, const std::string& payload_sha256, long budget_ms);
  std::string canonical_uri(const std::string& object_path) const;
  std::string object_path(const std::string& key) const;

  S3Config config_;
  AwsCredentials credentials_;
  std::string scheme_;       // "http" or "https"
  std::string host_header_;  // the Host we sign and send: [bucket.]host[:port]
  std::unique_ptr<HandlePool> pool_;
};

}  // namespace imageflex
