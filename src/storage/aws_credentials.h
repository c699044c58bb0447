// AWS credentials and where they come from: the standard chain of the AWS SDKs.
//
//  1. AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN);
//  2. the shared credentials file (AWS_SHARED_CREDENTIALS_FILE, else
//     ~/.aws/credentials), section AWS_PROFILE (else [default]);
//  3. the container endpoint: ECS task role (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI on
//     169.254.170.2) or AWS_CONTAINER_CREDENTIALS_FULL_URI (EKS Pod Identity, custom),
//     with AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE or _TOKEN as Authorization;
//  4. the EC2 instance profile through IMDSv2 (AWS_EC2_METADATA_SERVICE_ENDPOINT,
//     unless AWS_EC2_METADATA_DISABLED).
// Temporary credentials (3, 4) are fetched again before they expire.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/config.h"
#include "storage/sigv4.h"  // AwsCredentials

namespace imageflex {

// Thread-safe: any number of threads may call get() at once.
class AwsCredentialsProvider {
 public:
  virtual ~AwsCredentialsProvider() = default;
  // Credentials to sign with now. Throws Error(kStoreUnavailable) when temporary
  // credentials have expired and cannot be fetched again.
  virtual AwsCredentials get() = 0;
  // Where they come from, for logs; never a secret.
  virtual std::string describe() const = 0;
};

// Always the same credentials (keys given in the environment, a file, a test).
std::shared_ptr<AwsCredentialsProvider> static_credentials(AwsCredentials credentials,
                                                           std::string source = "static keys");

// The chain above. Nothing is read or fetched until the first get(), which walks the
// chain and keeps the first source that gives credentials; it throws
// std::invalid_argument saying what was tried if none does, or if a setting is wrong
// (a key without its secret, an unreadable AWS_SHARED_CREDENTIALS_FILE, a missing
// AWS_PROFILE, a full URI that is neither https nor a local address).
std::shared_ptr<AwsCredentialsProvider> aws_credential_chain(const AwsSettings& settings);

// ---- temporary credentials, the parts the chain is made of ----------------------------

struct TemporaryCredentials {
  AwsCredentials credentials;
  std::chrono::system_clock::time_point expiration;
};

// Bounds for one metadata request: these endpoints answer in milliseconds when they
// exist, and a missing one must not hold up the start for long.
struct MetadataTimeouts {
  long connect_ms = 1000;
  long total_ms = 2000;
};

// Where the container credentials are: a URL and what to send as Authorization.
struct ContainerEndpoint {
  std::string url;
  std::string authorization_token;       // sent as is, when no token file is given
  std::string authorization_token_file;  // read at every fetch: the agent rotates it
};

// The container endpoint the settings name, or nullopt if none. `ecs_host` is where a
// relative URI points (tests point it at loopback). Throws std::invalid_argument for a
// full URI that is neither https nor http on loopback or the ECS/EKS addresses.
std::optional<ContainerEndpoint> container_endpoint(const AwsSettings& settings,
                                                    std::string_view ecs_host = "http://169.254.170.2");

// One GET of the container endpoint. Throws Error(kStoreUnavailable) with the reason.
TemporaryCredentials fetch_container_credentials(const ContainerEndpoint& endpoint,
                                                 const MetadataTimeouts& timeouts = {});

// The instance profile's credentials through IMDSv2 at `endpoint` (scheme://host[:port]):
// a session token (PUT /latest/api/token), the role name, then the role's credentials.
// Throws Error(kStoreUnavailable) with the reason.
TemporaryCredentials fetch_imds_credentials(const std::string& endpoint,
                                            const MetadataTimeouts& timeouts = {});

struct RefreshPolicy {
  // Fetch again this long before the credentials expire.
  std::chrono::seconds refresh_ahead{std::chrono::minutes(5)};
  // No background fetch sooner than this after the last one: a failing endpoint or
  // credentials that live shorter than refresh_ahead are not fetched at every request.
  std::chrono::milliseconds min_interval{std::chrono::seconds(10)};
};

// Temporary credentials, fetched once when made (its failure throws), then again in the
// background from refresh_ahead before they expire: requests keep signing with the
// still-valid ones meanwhile and never wait. Only once they have expired does a
// request wait for a fetch; if it fails, get() throws Error(kStoreUnavailable).
class RefreshingCredentials : public AwsCredentialsProvider {
 public:
  using Fetch = std::function<TemporaryCredentials()>;
  RefreshingCredentials(std::string source, Fetch fetch, RefreshPolicy policy = {});
  ~RefreshingCredentials() override;
  RefreshingCredentials(const RefreshingCredentials&) = delete;
  RefreshingCredentials& operator=(const RefreshingCredentials&) = delete;

  AwsCredentials get() override;
  std::string describe() const override { return source_; }

 private:
  struct State;
  void refresh_loop();

  std::string source_;
  Fetch fetch_;
  RefreshPolicy policy_;
  std::unique_ptr<State> state_;
};

}  // namespace imageflex
