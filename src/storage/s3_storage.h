// The S3 backend: objects live in one bucket under an optional key prefix. This file
// maps S3's answers onto the Storage contract; s3_client.h sends the requests and
// s3_config.h says where the bucket is. Works with AWS S3 and with S3-compatible
// stores (OpenStack Swift s3api, MinIO, ...).
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "storage/aws_credentials.h"
#include "storage/live_spools.h"
#include "storage/s3_client.h"
#include "storage/s3_config.h"
#include "storage/storage.h"

namespace imageflex {

// Thread-safe, as its client is.
//
// Status mapping, beyond the Storage contract:
//  - a missing key reads as 404 or, for a reader without s3:ListBucket, 403: both
//    are "not found". A GET 403 whose error code is not AccessDenied (bad signature,
//    unknown key id, clock skew, expired token) and a GET 404 NoSuchBucket are
//    configuration faults and throw kStoreUnavailable instead; HEAD has no body to
//    tell them apart, so stat() reports them as not found.
//  - 403 on put/remove throws kStoreUnavailable ("store refused write (403)").
//  - what the client gives up on (retries spent, deadline passed) is kStoreUnavailable.
class S3Storage : public Storage {
 public:
  // Throws std::invalid_argument if the config is unusable (no bucket, bad endpoint)
  // or no credentials can be had.
  S3Storage(const S3Config& config, std::shared_ptr<AwsCredentialsProvider> credentials);

  std::optional<ObjectInfo> stat(const std::string& key) override;
  GetResult get(const std::string& key, const GetOptions& options) override;
  void put(const std::string& key, std::string_view bytes, const PutOptions& options) override;
  void remove(const std::string& key) override;
  // ListObjectsV2 (needs s3:ListBucket, which serving does not).
  ListPage list(const std::string& prefix, const std::string& start_after, std::size_t max_keys) override;
  std::string describe() const override;
  std::uint64_t bytes_read() const override { return bytes_read_.load(); }

  // Creates the bucket (for tests and first-time setup); one that already exists,
  // ours or not, is not an error: a later put reports a real permission problem.
  void create_bucket();

 private:
  std::string object_path(const std::string& key) const;

  S3Client client_;
  LiveSpools spools_;  // large objects being sent from spool files, shared by version
  std::atomic<std::uint64_t> bytes_read_{0};
  std::string bucket_;
  std::string prefix_;  // without leading or trailing '/'
  std::string region_;
};

}  // namespace imageflex
