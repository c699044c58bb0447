// Where the S3 bucket is and how to reach it: built from the settings (common/config.h),
// checked once, by the S3 client that uses it (s3_client.h).
#pragma once

#include <string>

#include "common/config.h"

namespace imageflex {

struct S3Config {
  std::string bucket;
  std::string prefix;    // key prefix; leading and trailing '/' are ignored; may be empty
  std::string endpoint;  // "http://127.0.0.1:8080"; empty: https://s3.REGION.amazonaws.com
  std::string region = "us-east-1";
  bool path_style = true;          // true: endpoint/bucket/key; false: bucket.endpoint-host/key
  std::string ca_file;             // CA bundle for HTTPS (CURLOPT_CAINFO); "" = libcurl's default
  long connect_timeout_ms = 2000;  // per connection attempt
  // Deadline for one storage call, retries and backoff included; each attempt gets
  // what is left of it. <= 0: no deadline (only connect_timeout_ms bounds an attempt).
  long total_timeout_ms = 10000;
  int max_retries = 3;  // extra attempts after the first, for transient failures only
  // Where bodies over S3Request::spool_above are written (unnamed files); "" = /tmp.
  std::string spool_dir;
};

// The S3Config for a storage URL "s3://BUCKET[/PREFIX]" and the S3 settings:
//  - region: AWS_REGION, else AWS_DEFAULT_REGION, else "us-east-1";
//  - addressing: as set, else path with an endpoint (Swift, MinIO and loopback servers
//    rarely have wildcard DNS) and virtual on AWS, except for bucket names with a '.',
//    which the *.s3 certificate does not cover.
// Only splits and defaults: check_s3_config() judges the result. Throws
// std::invalid_argument if the URL is not s3://.
S3Config s3_config_from(const std::string& storage_url, const S3Settings& settings);

// Where requests go, derived from a checked S3Config.
struct S3Address {
  std::string scheme;       // "http" or "https"
  std::string host_header;  // the Host we sign and send: [bucket.]host[:port]
};

// Checks the bucket name, region and endpoint, and derives the address. Throws
// std::invalid_argument naming the setting to fix.
S3Address check_s3_config(const S3Config& config);

}  // namespace imageflex
