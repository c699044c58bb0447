// Service configuration: defaults < the environment's profile (config/ENV.toml) <
// environment variables (IF_*, AWS_*) < command-line flags.
// This is the only code that reads the environment (and the profile file).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "image/limits.h"
#include "image/quality.h"
#include "request/presets.h"
#include "request/url_guards.h"

namespace imageflex {

// Where the S3 store is, as given; storage/s3_config.h turns it into an S3Config.
struct S3Settings {
  std::string endpoint;                      // IF_S3_ENDPOINT; "" = AWS for the region
  std::string addressing;                    // IF_S3_ADDRESSING: "path", "virtual" or "" (automatic)
  std::string region;                        // AWS_REGION; "" = default_region
  std::string default_region = "us-east-1";  // AWS_DEFAULT_REGION
  // IF_S3_SPOOL_DIR: where a GET larger than what is read into memory is written, unnamed,
  // to be streamed to the client from there; "" = $TMPDIR, else /tmp (resolved by load_config).
  std::string spool_dir;
};

// The AWS credential chain's inputs (storage/aws_credentials.h), under the names the
// AWS SDKs and CLI read, so one environment serves them and us.
struct AwsSettings {
  std::string access_key_id;                       // AWS_ACCESS_KEY_ID
  std::string secret_access_key;                   // AWS_SECRET_ACCESS_KEY
  std::string session_token;                       // AWS_SESSION_TOKEN
  std::string profile = "default";                 // AWS_PROFILE
  std::string shared_credentials_file;             // AWS_SHARED_CREDENTIALS_FILE; "" = $HOME/.aws/credentials
  std::string home;                                // HOME, read only to find ~/.aws/credentials
  std::string container_credentials_relative_uri;  // AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (ECS)
  std::string container_credentials_full_uri;      // AWS_CONTAINER_CREDENTIALS_FULL_URI (EKS, custom)
  std::string container_authorization_token;       // AWS_CONTAINER_AUTHORIZATION_TOKEN
  std::string container_authorization_token_file;  // AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
  std::string ec2_metadata_service_endpoint;       // AWS_EC2_METADATA_SERVICE_ENDPOINT; "" = IMDS
  bool ec2_metadata_disabled = false;              // AWS_EC2_METADATA_DISABLED
};

struct Config {
  // The environment (dev, staging, prod, as deploy/aws names them): it picks the profile,
  // and logs and metrics carry it.
  std::string env = "dev";
  std::string profile;             // the profile file read; "" = none
  bool playground = true;          // /_imageflex/playground and the endpoints it reads
  bool require_signing = false;    // start only with sign-keys (prod: no unsigned URLs by mistake)
  std::string root = "./samples";  // filesystem storage root
  std::string storage;             // "" = the filesystem root; "s3://bucket/prefix"
  std::string listen = "127.0.0.1:8080";
  int workers = 0;           // transform threads; 0 = number of cores
  int queue = 64;            // transforms waiting beyond the running ones
  int io_threads = 2;        // HTTP I/O threads (never run libvips)
  int handler_threads = 16;  // threads that talk to storage and wait on transforms
  int handler_queue = 256;   // requests waiting for a handler thread; beyond: 503
  int miss_threads = 0;      // handler threads that may wait on transforms at once; 0 = half of them
  // The HTTP front against hostile or broken clients (src/http/server.cpp).
  int max_connections = 10000;    // open client connections; at the cap, accepting pauses
  int header_timeout_ms = 10000;  // a request head must arrive whole within this
  int idle_timeout_ms = 30000;    // a kept-alive connection may wait this long for its next request
  int send_timeout_ms = 10000;    // a response is cut when its client reads almost nothing for this long
  int drain_timeout_ms = 10000;   // on SIGTERM, requests in flight get this long before a 503
  std::uint64_t memory_cache_bytes = 64ull << 20;
  std::uint64_t original_cache_bytes = 32ull << 20;
  int trust_version_ms =
      1000;  // an original's version learnt from the store is trusted this long; 0 = ask every time
  std::uint64_t variant_quota_bytes = 0;  // folder store: variant bytes kept; 0 = unlimited
  int temp_max_age_s = 60;                // folder store: age at which a .tmp- file is a crash's leftover
  int open_files = 256;                   // folder store: variant files held open for hits; 0 = none
  std::uint64_t memory_budget_bytes = 0;  // the process's memory for admission; 0 = derived (admission.h)
  // AVIF chosen from Accept whose estimated encode is longer: WebP now, AVIF in the
  // background (negotiate/avif_budget.h); 0 = always AVIF now.
  int avif_budget_ms = 300;
  std::string cache_control_original = "public, max-age=3600";
  std::string cache_control_variant = "public, max-age=86400";
  bool access_log = true;
  bool client_hints = false;  // honour Sec-CH-DPR / Sec-CH-Width; send Accept-CH and Vary on them
  // `imageflex lambda`: answer in the function URL's RESPONSE_STREAM invoke mode (true) or
  // in BUFFERED mode (false); the stack sets it to match the function URL.
  bool lambda_streaming = true;
  std::string tls_ca_file;  // CA bundle for HTTPS to S3; "" = libcurl's default
  Limits limits;
  Quality quality;
  UrlGuards url_guards;      // signed URLs and allowed sizes
  std::string presets_file;  // --presets: read into `presets` once every setting is known
  Presets presets;           // ?p=NAME parameter sets; presets.only refuses other parameters
  S3Settings s3;
  AwsSettings aws;
};

// One documented setting: its flag name, environment name, default and help.
struct SettingInfo {
  std::string flag;
  std::string env;
  std::string default_value;
  std::string help;
  bool secret = false;  // never printed (imageflex config shows that it is set, not its value)
};
const std::vector<SettingInfo>& settings();

// Where a setting's value in effect came from (`imageflex config` prints it).
enum class SettingSource { kDefault, kProfile, kEnvironment, kFlag };
struct SettingOrigin {
  const SettingInfo* info = nullptr;
  std::string value;  // the text applied, or the default's description
  SettingSource source = SettingSource::kDefault;
  std::string where;  // "config/prod.toml:4", "IF_WORKERS", "--workers"; "" for defaults
};
struct ResolvedConfig {
  Config config;
  std::vector<SettingOrigin> origins;  // in the settings' order
};

// Reads a profile file; nullopt when it does not exist. Throws std::invalid_argument when
// it exists but cannot be read.
using ProfileReader = std::function<std::optional<std::string>(const std::string& path)>;
std::optional<std::string> read_profile_file(const std::string& path);

// The environment (--env, IF_ENV, default dev) selects CONFIG_DIR/ENV.toml (--config-dir,
// IF_CONFIG_DIR, default ./config); a missing file is an error only when the environment
// or the folder was named. Then each setting: flag, else environment variable, else
// profile, else default. Throws std::invalid_argument naming the setting (and, for the
// profile, the file and line).
ResolvedConfig resolve_config(const std::map<std::string, std::string>& flags,
                              const std::map<std::string, std::string>& environment,
                              const ProfileReader& reader = read_profile_file);

// resolve_config(...).config: flags (name → value, without the leading "--") over the
// environment over the profile over defaults, validated.
Config load_config(const std::map<std::string, std::string>& flags,
                   const std::map<std::string, std::string>& environment);

// The process environment restricted to the settings' names, plus HOME.
std::map<std::string, std::string> settings_environment();

}  // namespace imageflex
