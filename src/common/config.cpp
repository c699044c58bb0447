#include "common/config.h"

#include "common/error.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "common/profile.h"
#include "common/text.h"

namespace imageflex {
namespace {

constexpr std::string_view kEnvFlag = "env";
constexpr std::string_view kConfigDirFlag = "config-dir";

struct Setting {
  SettingInfo info;
  std::function<void(Config&, const std::string&)> apply;
};

long long parse_integer(const std::string& name, const std::string& value, long long min, long long max) {
  long long result = 0;
  const char* end = value.data() + value.size();
  auto [ptr, ec] = std::from_chars(value.data(), end, result);
  if (value.empty() || ec != std::errc() || ptr != end || result < min || result > max) {
    throw std::invalid_argument("invalid " + name + " '" + value + "': expected a whole number from " +
                                std::to_string(min) + " to " + std::to_string(max));
  }
  return result;
}

bool parse_bool(const std::string& name, const std::string& value) {
  if (value == "1" || value == "true" || value == "yes" || value == "on") return true;
  if (value == "0" || value == "false" || value == "no" || value == "off") return false;
  throw std::invalid_argument("invalid " + name + " '" + value + "': expected true or false");
}

void check_listen(const std::string& value) {
  auto colon = value.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    throw std::invalid_argument("invalid listen '" + value + "': expected HOST:PORT");
  }
  parse_integer("listen port", value.substr(colon + 1), 0, 65535);
}

template <typename T>
std::function<void(Config&, const std::string&)> integer(T Config::*field, const char* name, long long min,
                                                         long long max) {
  return
      [=](Config& c, const std::string& v) { c.*field = static_cast<T>(parse_integer(name, v, min, max)); };
}

template <typename T>
std::function<void(Config&, const std::string&)> limit(T Limits::*field, const char* name, long long min,
                                                       long long max) {
  return [=](Config& c, const std::string& v) {
    c.limits.*field = static_cast<T>(parse_integer(name, v, min, max));
  };
}

std::function<void(Config&, const std::string&)> quality(int Quality::*field, const char* name, long long min,
                                                         long long max) {
  return [=](Config& c, const std::string& v) {
    c.quality.*field = static_cast<int>(parse_integer(name, v, min, max));
  };
}

std::function<void(Config&, const std::string&)> s3_text(std::string S3Settings::*field) {
  return [=](Config& c, const std::string& v) { c.s3.*field = v; };
}

// Values are never echoed here: some of these are secrets.
std::function<void(Config&, const std::string&)> aws_text(std::string AwsSettings::*field) {
  return [=](Config& c, const std::string& v) { c.aws.*field = v; };
}

// "100,200,400" → ascending, without repeats; "" = no list.
std::vector<int> parse_sizes(const std::string& name, const std::string& value) {
  std::vector<int> sizes;
  std::size_t start = 0;
  while (!value.empty() && start <= value.size()) {
    const auto end = std::min(value.find(',', start), value.size());
    sizes.push_back(static_cast<int>(parse_integer(
        name, std::string(trim(std::string_view(value).substr(start, end - start))), 1, 65535)));
    start = end + 1;
  }
  std::sort(sizes.begin(), sizes.end());
  sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());
  return sizes;
}

// Comma-separated secrets; never echoed, only counted.
std::vector<std::string> parse_keys(const std::string& value) {
  std::vector<std::string> keys;
  std::size_t start = 0;
  while (!value.empty() && start <= value.size()) {
    const auto end = std::min(value.find(',', start), value.size());
    keys.emplace_back(trim(std::string_view(value).substr(start, end - start)));
    if (keys.back().size() < kMinSigningKeyBytes) {
      throw std::invalid_argument("invalid sign-keys: key " + std::to_string(keys.size()) + " has " +
                                  std::to_string(keys.back().size()) + " bytes; each needs at least " +
                                  std::to_string(kMinSigningKeyBytes) + " (openssl rand -hex 32 makes one)");
    }
    start = end + 1;
  }
  return keys;
}

// Sizes that must fit within other settings, checked once all are read.
void check_sizes(const Config& config) {
  const int max = config.limits.max_output_dimension;
  const auto& sizes = config.url_guards.sizes;
  for (const auto& [name, list] :
       {std::pair{"allowed-widths", &sizes.widths}, {"allowed-heights", &sizes.heights}}) {
    if (!list->empty() && list->back() > max) {
      throw std::invalid_argument("invalid " + std::string(name) + ": " + std::to_string(list->back()) +
                                  " is beyond max-output-dimension " + std::to_string(max));
    }
  }
  if (sizes.step > max) {
    throw std::invalid_argument("invalid size-step: beyond max-output-dimension " + std::to_string(max));
  }
}

const std::vector<Setting>& table() {
  static const Config d;
  static const std::vector<Setting> settings = {
      // These two pick the profile, so they are read before it and cannot be set in it.
      {{std::string(kEnvFlag), "IF_ENV", d.env,
        "environment, dev, staging or prod: selects CONFIG-DIR/ENV.toml"},
       [](Config& c, const std::string& v) {
         if (v != "dev" && v != "staging" && v != "prod") {
           throw std::invalid_argument("unknown environment '" + v + "': use one of dev, staging, prod");
         }
         c.env = v;
       }},
      {{std::string(kConfigDirFlag), "IF_CONFIG_DIR", "config", "folder of the environment profiles"},
       [](Config&, const std::string& v) {
         if (v.empty()) throw std::invalid_argument("invalid config-dir: empty");
       }},
      {{"playground", "IF_PLAYGROUND", "true",
        "serve /_imageflex/playground, a page to try parameters on the store's images (it lists them)"},
       [](Config& c, const std::string& v) { c.playground = parse_bool("playground", v); }},
      {{"require-signing", "IF_REQUIRE_SIGNING", "false", "refuse to start without sign-keys"},
       [](Config& c, const std::string& v) { c.require_signing = parse_bool("require-signing", v); }},
      {{"root", "IF_ROOT", d.root, "folder of originals (filesystem storage)"},
       [](Config& c, const std::string& v) {
         if (v.empty()) throw std::invalid_argument("invalid root: empty");
         c.root = v;
       }},
      {{"storage", "IF_STORAGE", "(the root folder)", "s3://BUCKET[/PREFIX] to use S3 instead"},
       [](Config& c, const std::string& v) {
         if (!v.empty() && v.rfind("s3://", 0) != 0 && v.rfind("file:", 0) != 0) {
           throw std::invalid_argument("invalid storage '" + v + "': expected s3://BUCKET[/PREFIX]");
         }
         c.storage = v;
       }},
      {{"listen", "IF_LISTEN", d.listen, "address to serve on, HOST:PORT (port 0 = any free port)"},
       [](Config& c, const std::string& v) {
         check_listen(v);
         c.listen = v;
       }},
      {{"workers", "IF_WORKERS", "0 (= cores)", "transform threads"},
       integer(&Config::workers, "workers", 0, 256)},
      {{"queue", "IF_QUEUE", std::to_string(d.queue), "transforms allowed to wait; beyond: 503"},
       integer(&Config::queue, "queue", 0, 100000)},
      {{"io-threads", "IF_IO_THREADS", std::to_string(d.io_threads), "HTTP I/O threads"},
       integer(&Config::io_threads, "io-threads", 1, 64)},
      {{"handler-threads", "IF_HANDLER_THREADS", std::to_string(d.handler_threads),
        "threads that read storage and wait on transforms"},
       integer(&Config::handler_threads, "handler-threads", 1, 1024)},
      {{"handler-queue", "IF_HANDLER_QUEUE", std::to_string(d.handler_queue),
        "requests allowed to wait for a handler thread; beyond: 503"},
       integer(&Config::handler_queue, "handler-queue", 0, 100000)},
      {{"miss-threads", "IF_MISS_THREADS", "0 (= half the handler threads)",
        "handler threads that may wait on transforms at once; beyond: 503, so hits keep the rest"},
       integer(&Config::miss_threads, "miss-threads", 0, 1024)},
      {{"max-connections", "IF_MAX_CONNECTIONS", std::to_string(d.max_connections),
        "open client connections (kept below the file descriptor limit); beyond: accepting pauses"},
       integer(&Config::max_connections, "max-connections", 1, 1000000)},
      {{"header-timeout-ms", "IF_HEADER_TIMEOUT_MS", std::to_string(d.header_timeout_ms),
        "time for a client to send a whole request head; beyond: the connection is closed"},
       integer(&Config::header_timeout_ms, "header-timeout-ms", 100, 600000)},
      {{"idle-timeout-ms", "IF_IDLE_TIMEOUT_MS", std::to_string(d.idle_timeout_ms),
        "time a kept-alive connection may wait for its next request"},
       integer(&Config::idle_timeout_ms, "idle-timeout-ms", 100, 3600000)},
      {{"send-timeout-ms", "IF_SEND_TIMEOUT_MS", std::to_string(d.send_timeout_ms),
        "a response is cut (and logged) when its client reads under 32 KiB in this long"},
       integer(&Config::send_timeout_ms, "send-timeout-ms", 100, 600000)},
      {{"drain-timeout-ms", "IF_DRAIN_TIMEOUT_MS", std::to_string(d.drain_timeout_ms),
        "on SIGTERM, time for requests in flight to finish; the rest get 503"},
       integer(&Config::drain_timeout_ms, "drain-timeout-ms", 0, 600000)},
      {{"memory-cache-mb", "IF_MEMORY_CACHE_MB", std::to_string(d.memory_cache_bytes >> 20),
        "in-memory cache of encoded variants, MiB as allocated (variants, keys, bookkeeping; 0 = off)"},
       [](Config& c, const std::string& v) {
         c.memory_cache_bytes = static_cast<std::uint64_t>(parse_integer("memory-cache-mb", v, 0, 1 << 20))
                                << 20;
       }},
      {{"original-cache-mb", "IF_ORIGINAL_CACHE_MB", std::to_string(d.original_cache_bytes >> 20),
        "originals read for transforms kept in memory, MiB as allocated, so the misses of one picture "
        "(its widths and formats) read it from the store once (0 = off)"},
       [](Config& c, const std::string& v) {
         c.original_cache_bytes =
             static_cast<std::uint64_t>(parse_integer("original-cache-mb", v, 0, 1 << 20)) << 20;
       }},
      {{"trust-version-ms", "IF_TRUST_VERSION_MS", std::to_string(d.trust_version_ms),
        "an original's version learnt from the store is trusted this long, so hits skip the store; a "
        "replaced original may be served stale this long on a node (0 = ask the store on every request)"},
       integer(&Config::trust_version_ms, "trust-version-ms", 0, 3600000)},
      {{"variant-quota-mb", "IF_VARIANT_QUOTA_MB", "0 (= unlimited)",
        "folder store: MiB of variants kept under _imageflex/; least recently used deleted beyond it"},
       [](Config& c, const std::string& v) {
         c.variant_quota_bytes =
             static_cast<std::uint64_t>(parse_integer("variant-quota-mb", v, 0, 1LL << 30)) << 20;
       }},
      {{"temp-max-age-s", "IF_TEMP_MAX_AGE_S", std::to_string(d.temp_max_age_s),
        "folder store: a .tmp- file (a write cut by a crash) older than this is deleted"},
       integer(&Config::temp_max_age_s, "temp-max-age-s", 1, 86400)},
      {{"open-files", "IF_OPEN_FILES", std::to_string(d.open_files),
        "folder store: variant files held open between hits (like nginx's open_file_cache), each checked "
        "against its name once per trust-version-ms; counted against the file descriptor limit before "
        "max-connections (0 = none)"},
       integer(&Config::open_files, "open-files", 0, 1000000)},
      {{"memory-budget-mb", "IF_MEMORY_BUDGET_MB", "0 (= half the cgroup's or machine's memory)",
        "the process's memory, MiB: a transform starts only while what the process holds at start and in "
        "the memory cache, plus the running transforms' estimates and its own, fit, and while resident "
        "memory "
        "leaves room for its estimate; it waits for room, and one that can never fit gets 413"},
       [](Config& c, const std::string& v) {
         c.memory_budget_bytes = static_cast<std::uint64_t>(parse_integer("memory-budget-mb", v, 0, 1 << 24))
                                 << 20;
       }},
      {{"cache-control-original", "IF_CACHE_CONTROL_ORIGINAL", d.cache_control_original,
        "Cache-Control for originals"},
       [](Config& c, const std::string& v) { c.cache_control_original = v; }},
      {{"cache-control-variant", "IF_CACHE_CONTROL_VARIANT", d.cache_control_variant,
        "Cache-Control for variants"},
       [](Config& c, const std::string& v) { c.cache_control_variant = v; }},
      {{"client-hints", "IF_CLIENT_HINTS", "false",
        "honour Sec-CH-DPR (and Sec-CH-Width without w) when dpr is absent; the CDN must key on them"},
       [](Config& c, const std::string& v) { c.client_hints = parse_bool("client-hints", v); }},
      {{"access-log", "IF_ACCESS_LOG", "true", "one JSON line per request on stdout"},
       [](Config& c, const std::string& v) { c.access_log = parse_bool("access-log", v); }},
      {{"lambda-response-mode", "IF_LAMBDA_RESPONSE_MODE", "stream",
        "imageflex lambda: the function URL's invoke mode, stream (RESPONSE_STREAM) or buffered"},
       [](Config& c, const std::string& v) {
         if (v != "stream" && v != "buffered") {
           throw std::invalid_argument("invalid lambda-response-mode '" + v +
                                       "': expected stream or buffered");
         }
         c.lambda_streaming = v == "stream";
       }},
      {{"tls-ca-file", "IF_TLS_CA_FILE", "(libcurl's default)",
        "CA certificates (PEM) for HTTPS to S3; the Lambda bundle uses its own"},
       [](Config& c, const std::string& v) { c.tls_ca_file = v; }},
      {{"max-source-mb", "IF_MAX_SOURCE_MB", std::to_string(d.limits.max_source_bytes >> 20),
        "largest original accepted, MiB"},
       [](Config& c, const std::string& v) {
         c.limits.max_source_bytes = static_cast<std::uint64_t>(parse_integer("max-source-mb", v, 1, 4096))
                                     << 20;
       }},
      {{"max-source-pixels", "IF_MAX_SOURCE_PIXELS", std::to_string(d.limits.max_source_pixels),
        "largest original accepted, pixels over all frames (checked from the header)"},
       limit(&Limits::max_source_pixels, "max-source-pixels", 1, 10'000'000'000LL)},
      {{"max-output-dimension", "IF_MAX_OUTPUT_DIMENSION", std::to_string(d.limits.max_output_dimension),
        "largest w, h or result side, pixels"},
       limit(&Limits::max_output_dimension, "max-output-dimension", 1, 65535)},
      {{"max-frames", "IF_MAX_FRAMES", std::to_string(d.limits.max_frames),
        "animation frames kept; longer animations are refused (413)"},
       limit(&Limits::max_frames, "max-frames", 1, 10000)},
      {{"max-output-pixels", "IF_MAX_OUTPUT_PIXELS", std::to_string(d.limits.max_output_pixels),
        "largest result, pixels over all frames (checked before it is made; 413 beyond)"},
       limit(&Limits::max_output_pixels, "max-output-pixels", 1, 10'000'000'000LL)},
      {{"max-output-mb", "IF_MAX_OUTPUT_MB", std::to_string(d.limits.max_output_bytes >> 20),
        "largest encoded result, MiB (413 beyond; nothing stored)"},
       [](Config& c, const std::string& v) {
         c.limits.max_output_bytes = static_cast<std::uint64_t>(parse_integer("max-output-mb", v, 1, 4096))
                                     << 20;
       }},
      {{"deadline-ms", "IF_DEADLINE_MS", std::to_string(d.limits.deadline_ms),
        "per-request deadline; beyond: 504"},
       limit(&Limits::deadline_ms, "deadline-ms", 10, 600000)},
      // Cost guards (request/url_guards.h): each bounds the variants one original can cost.
      {{"sign-keys", "IF_SIGN_KEYS", "(none: signing off)",
        "comma-separated HMAC keys, each at least 32 bytes; any verifies s=, the first signs", true},
       [](Config& c, const std::string& v) { c.url_guards.signing.keys = parse_keys(v); }},
      {{"sign-originals", "IF_SIGN_ORIGINALS", "true",
        "with sign-keys: originals (no image parameters) need a signature too"},
       [](Config& c, const std::string& v) {
         c.url_guards.signing.sign_originals = parse_bool("sign-originals", v);
       }},
      {{"presets", "IF_PRESETS", "(none)",
        "file of named parameter sets, one 'NAME: w=200,h=200,fit=cover' a line, used as ?p=NAME"},
       [](Config& c, const std::string& v) { c.presets_file = v; }},
      {{"presets-only", "IF_PRESETS_ONLY", "false",
        "with presets: refuse every image parameter but p= (and meta), so only listed variants exist"},
       [](Config& c, const std::string& v) { c.presets.only = parse_bool("presets-only", v); }},
      {{"allowed-widths", "IF_ALLOWED_WIDTHS", "(any)", "comma-separated widths w may take"},
       [](Config& c, const std::string& v) { c.url_guards.sizes.widths = parse_sizes("allowed-widths", v); }},
      {{"allowed-heights", "IF_ALLOWED_HEIGHTS", "(any)", "comma-separated heights h may take"},
       [](Config& c, const std::string& v) {
         c.url_guards.sizes.heights = parse_sizes("allowed-heights", v);
       }},
      {{"size-step", "IF_SIZE_STEP", "0 (any)", "w and h without a list must be multiples of this"},
       [](Config& c, const std::string& v) {
         c.url_guards.sizes.step = static_cast<int>(parse_integer("size-step", v, 0, 65535));
       }},
      {{"size-policy", "IF_SIZE_POLICY", "round-up",
        "a size outside the allowed ones: refuse (400) or round-up (to the next, or the largest)"},
       [](Config& c, const std::string& v) {
         if (v != "refuse" && v != "round-up") {
           throw std::invalid_argument("invalid size-policy '" + v + "': expected refuse or round-up");
         }
         c.url_guards.sizes.policy = v == "refuse" ? SizePolicy::kRefuse : SizePolicy::kRoundUp;
       }},
      {{"quality-jpeg", "IF_QUALITY_JPEG", std::to_string(d.quality.jpeg), "default JPEG quality"},
       quality(&Quality::jpeg, "quality-jpeg", 1, 100)},
      {{"quality-webp", "IF_QUALITY_WEBP", std::to_string(d.quality.webp), "default WebP quality"},
       quality(&Quality::webp, "quality-webp", 1, 100)},
      {{"quality-avif", "IF_QUALITY_AVIF", std::to_string(d.quality.avif), "default AVIF quality"},
       quality(&Quality::avif, "quality-avif", 1, 100)},
      {{"avif-effort", "IF_AVIF_EFFORT", std::to_string(d.quality.avif_effort),
        "AVIF encoder effort 0 (fastest) to 9 (smallest)"},
       quality(&Quality::avif_effort, "avif-effort", 0, 9)},
      {{"avif-budget-ms", "IF_AVIF_BUDGET_MS", std::to_string(d.avif_budget_ms),
        "an AVIF chosen from Accept estimated to encode longer: WebP now, AVIF in the background; 0 = off"},
       integer(&Config::avif_budget_ms, "avif-budget-ms", 0, 600000)},
      {{"png-compression", "IF_PNG_COMPRESSION", std::to_string(d.quality.png_compression),
        "PNG zlib level 0-9"},
       quality(&Quality::png_compression, "png-compression", 0, 9)},
      // S3 storage (with --storage s3://...). The AWS_* names are the AWS SDKs' own.
      {{"s3-endpoint", "IF_S3_ENDPOINT", "(AWS for the region)",
        "S3 endpoint http(s)://HOST[:PORT], e.g. MinIO or Swift"},
       s3_text(&S3Settings::endpoint)},
      {{"s3-addressing", "IF_S3_ADDRESSING", "(path with an endpoint, else virtual)",
        "path (HOST/BUCKET/KEY) or virtual (BUCKET.HOST/KEY)"},
       [](Config& c, const std::string& v) {
         if (!v.empty() && v != "path" && v != "virtual") {
           throw std::invalid_argument("invalid s3-addressing (IF_S3_ADDRESSING) '" + v +
                                       "': expected path or virtual");
         }
         c.s3.addressing = v;
       }},
      {{"s3-region", "AWS_REGION", "(AWS_DEFAULT_REGION)", "the signing region"},
       s3_text(&S3Settings::region)},
      {{"s3-default-region", "AWS_DEFAULT_REGION", d.s3.default_region,
        "the signing region when AWS_REGION is unset"},
       s3_text(&S3Settings::default_region)},
      {{"s3-spool-dir", "IF_S3_SPOOL_DIR", "($TMPDIR, else /tmp)",
        "folder (on disk, not tmpfs) where a large S3 object is written, unnamed, and streamed to its client "
        "from"},
       s3_text(&S3Settings::spool_dir)},
      {{"aws-access-key-id", "AWS_ACCESS_KEY_ID", "(none)",
        "access key; with the secret, it comes before every other credential source"},
       aws_text(&AwsSettings::access_key_id)},
      {{"aws-secret-access-key", "AWS_SECRET_ACCESS_KEY", "(none)",
        "secret key (prefer the environment: flags show in ps)", true},
       aws_text(&AwsSettings::secret_access_key)},
      {{"aws-session-token", "AWS_SESSION_TOKEN", "(none)", "session token of temporary keys", true},
       aws_text(&AwsSettings::session_token)},
      {{"aws-profile", "AWS_PROFILE", d.aws.profile, "section of the shared credentials file"},
       aws_text(&AwsSettings::profile)},
      {{"aws-shared-credentials-file", "AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials",
        "the shared credentials file"},
       aws_text(&AwsSettings::shared_credentials_file)},
      {{"aws-container-credentials-relative-uri", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "(none)",
        "ECS task role: path on 169.254.170.2 (set by ECS)"},
       aws_text(&AwsSettings::container_credentials_relative_uri)},
      {{"aws-container-credentials-full-uri", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "(none)",
        "container credentials URL: https, or http on loopback or the ECS/EKS address"},
       aws_text(&AwsSettings::container_credentials_full_uri)},
      {{"aws-container-authorization-token", "AWS_CONTAINER_AUTHORIZATION_TOKEN", "(none)",
        "Authorization header for the container credentials URL", true},
       aws_text(&AwsSettings::container_authorization_token)},
      {{"aws-container-authorization-token-file", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "(none)",
        "file holding that header, read at every fetch (EKS Pod Identity)"},
       aws_text(&AwsSettings::container_authorization_token_file)},
      {{"aws-ec2-metadata-service-endpoint", "AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://169.254.169.254",
        "EC2 instance metadata service (IMDSv2), for the instance profile's credentials"},
       aws_text(&AwsSettings::ec2_metadata_service_endpoint)},
      {{"aws-ec2-metadata-disabled", "AWS_EC2_METADATA_DISABLED", "false",
        "true: never ask the instance metadata service for credentials"},
       [](Config& c, const std::string& v) {
         c.aws.ec2_metadata_disabled = !v.empty() && parse_bool("aws-ec2-metadata-disabled", to_lower(v));
       }},
  };
  return settings;
}

}  // namespace

const std::vector<SettingInfo>& settings() {
  static const std::vector<SettingInfo> infos = [] {
    std::vector<SettingInfo> result;
    for (const auto& s : table()) result.push_back(s.info);
    return result;
  }();
  return infos;
}

std::optional<std::string> read_profile_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw std::invalid_argument("cannot read profile " + path);
  return buffer.str();
}

ResolvedConfig resolve_config(const std::map<std::string, std::string>& flags,
                              const std::map<std::string, std::string>& environment,
                              const ProfileReader& reader) {
  for (const auto& [name, value] : flags) {
    bool known = false;
    for (const auto& s : table()) known = known || s.info.flag == name;
    if (!known) throw std::invalid_argument("unknown setting --" + name);
  }
  // The environment and the profile folder come from flags or variables only.
  const auto chosen = [&](std::string_view flag, const std::string& env, const std::string& fallback) {
    if (auto found = flags.find(std::string(flag)); found != flags.end())
      return std::pair{found->second, true};
    if (auto found = environment.find(env); found != environment.end()) return std::pair{found->second, true};
    return std::pair{fallback, false};
  };
  const Config defaults;
  const auto [env_name, env_named] = chosen(kEnvFlag, "IF_ENV", defaults.env);
  const auto [dir, dir_named] = chosen(kConfigDirFlag, "IF_CONFIG_DIR", "config");
  const std::string path = dir + "/" + env_name + ".toml";
  std::vector<ProfileEntry> profile;
  bool have_profile = false;
  if (env_name == "dev" || env_name == "staging" || env_name == "prod") {  // else the env row names it
    if (auto text = reader(path)) {
      profile = parse_profile(*text, path);
      have_profile = true;
    } else if (env_named || dir_named) {
      throw std::invalid_argument("no profile " + path + " for environment " + env_name +
                                  " (set config-dir / IF_CONFIG_DIR to the folder of the profiles)");
    }
  }
  for (const auto& entry : profile) {
    const auto where = path + ":" + std::to_string(entry.line);
    if (entry.key == kEnvFlag || entry.key == kConfigDirFlag) {
      throw std::invalid_argument(where + ": " + entry.key +
                                  " picks the profile, so it cannot be set in one");
    }
    bool known = false;
    for (const auto& s : table()) known = known || s.info.flag == entry.key;
    if (!known) throw std::invalid_argument(where + ": unknown setting '" + entry.key + "'");
  }

  ResolvedConfig resolved;
  Config& config = resolved.config;
  for (const auto& s : table()) {
    SettingOrigin origin{&s.info, s.info.default_value, SettingSource::kDefault, ""};
    const auto flag = flags.find(s.info.flag);
    const auto env = environment.find(s.info.env);
    const auto in_profile =
        std::find_if(profile.begin(), profile.end(), [&](const auto& e) { return e.key == s.info.flag; });
    if (flag != flags.end()) {
      origin = {&s.info, flag->second, SettingSource::kFlag, "--" + s.info.flag};
    } else if (env != environment.end()) {
      origin = {&s.info, env->second, SettingSource::kEnvironment, s.info.env};
    } else if (in_profile != profile.end()) {
      origin = {&s.info, in_profile->value, SettingSource::kProfile,
                path + ":" + std::to_string(in_profile->line)};
    }
    if (origin.source == SettingSource::kProfile) {
      try {
        s.apply(config, origin.value);
      } catch (const std::invalid_argument& error) {
        throw std::invalid_argument(origin.where + ": setting " + s.info.flag + ": " + error.what());
      }
    } else if (origin.source != SettingSource::kDefault) {
      s.apply(config, origin.value);
    }
    resolved.origins.push_back(std::move(origin));
  }
  if (have_profile) config.profile = path;
  check_sizes(config);
  if (config.require_signing && config.url_guards.signing.keys.empty()) {
    throw std::invalid_argument("require-signing is on (environment " + config.env +
                                ") but sign-keys is empty: set IF_SIGN_KEYS");
  }
  if (!config.presets_file.empty()) {
    const bool only = config.presets.only;
    try {
      config.presets = load_presets(config.presets_file, config.limits.max_output_dimension);
    } catch (const Error& error) {
      throw std::invalid_argument(std::string("invalid presets: ") + error.what());
    }
    config.presets.only = only;
  } else if (config.presets.only) {
    throw std::invalid_argument("invalid presets-only: true needs a presets file");
  }
  if (const auto home = environment.find("HOME"); home != environment.end()) config.aws.home = home->second;
  if (config.s3.spool_dir.empty()) {
    const auto tmpdir = environment.find("TMPDIR");
    config.s3.spool_dir = tmpdir != environment.end() && !tmpdir->second.empty() ? tmpdir->second : "/tmp";
  }
  if (config.workers == 0) {
    config.workers = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  return resolved;
}

Config load_config(const std::map<std::string, std::string>& flags,
                   const std::map<std::string, std::string>& environment) {
  return resolve_config(flags, environment).config;
}

std::map<std::string, std::string> settings_environment() {
  std::map<std::string, std::string> result;
  for (const auto& s : table()) {
    if (const char* value = std::getenv(s.info.env.c_str())) result[s.info.env] = value;
  }
  if (const char* home = std::getenv("HOME")) result["HOME"] = home;
  if (const char* tmpdir = std::getenv("TMPDIR")) result["TMPDIR"] = tmpdir;
  return result;
}

}  // namespace imageflex
