#include "storage/aws_credentials.h"

#include <nlohmann/json.hpp>

#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/log.h"
#include "common/text.h"
#include "common/thread_name.h"
#include "storage/curl_util.h"

namespace imageflex {
namespace {

using std::chrono::steady_clock;
using std::chrono::system_clock;

constexpr std::string_view kImdsEndpoint = "http://169.254.169.254";
constexpr std::size_t kMaxMetadataAnswer = std::size_t{64} * 1024;  // a credentials document is ~2 KiB
// IMDSv2 session tokens live up to six hours; each fetch takes a new one.
constexpr const char* kImdsTokenTtlSeconds = "21600";

// ---- static keys -----------------------------------------------------------------------

class StaticCredentials : public AwsCredentialsProvider {
 public:
  StaticCredentials(AwsCredentials credentials, std::string source)
      : credentials_(std::move(credentials)), source_(std::move(source)) {}
  AwsCredentials get() override { return credentials_; }
  std::string describe() const override { return source_; }

 private:
  AwsCredentials credentials_;
  std::string source_;
};

// ---- the shared credentials file ---------------------------------------------------------

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

// The file's credentials, or nullptr (with the reason added to `tried`) when the file
// or the default profile is simply not there. What the settings name explicitly (a
// file, a profile) and is wrong throws instead: that is a mistake to fix, not a gap.
std::shared_ptr<AwsCredentialsProvider> credentials_from_file(const AwsSettings& settings,
                                                              std::vector<std::string>& tried) {
  std::string path = settings.shared_credentials_file;
  const bool explicit_path = !path.empty();
  if (!explicit_path) {
    if (settings.home.empty()) {
      tried.emplace_back("no ~/.aws/credentials (HOME is unset)");
      return nullptr;
    }
    path = settings.home + "/.aws/credentials";
  }
  const std::string profile = settings.profile.empty() ? "default" : settings.profile;
  const bool explicit_profile = profile != "default";

  const auto section = read_ini_section(path, profile);
  if (!section) {
    if (explicit_path) {
      throw std::invalid_argument("AWS_SHARED_CREDENTIALS_FILE: cannot read '" + path + "'");
    }
    if (explicit_profile) {
      throw std::invalid_argument("no S3 credentials: AWS_PROFILE names [" + profile + "] but there is no " +
                                  path);
    }
    tried.emplace_back("no " + path);
    return nullptr;
  }
  const auto value = [&](const char* name) {
    const auto found = section->find(name);
    return found == section->end() ? std::string() : found->second;
  };
  AwsCredentials credentials{value("aws_access_key_id"), value("aws_secret_access_key"),
                             value("aws_session_token")};
  if (credentials.access_key.empty() || credentials.secret_key.empty()) {
    if (explicit_profile) {
      throw std::invalid_argument("no S3 credentials: profile [" + profile + "] in " + path +
                                  " (AWS_PROFILE) needs aws_access_key_id and aws_secret_access_key");
    }
    tried.emplace_back("no keys in [default] of " + path);
    return nullptr;
  }
  return static_credentials(std::move(credentials), "shared credentials file " + path + " [" + profile + "]");
}

// ---- metadata endpoints --------------------------------------------------------------

struct MetadataAnswer {
  long status = 0;
  std::string body;
};

std::size_t on_metadata_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto& body = *static_cast<std::string*>(user);
  if (body.size() + size * count > kMaxMetadataAnswer) return 0;  // aborts the transfer
  body.append(data, size * count);
  return size * count;
}

Error metadata_error(const std::string& what) {
  return Error(ErrorKind::kStoreUnavailable, what);
}

// One bounded request to a metadata endpoint. Throws if there is no answer at all.
MetadataAnswer metadata_request(const char* method, const std::string& url, const NameValueList& headers,
                                const MetadataTimeouts& timeouts) {
  init_curl();
  const CurlEasy handle(curl_easy_init());
  if (!handle) throw metadata_error(url + ": cannot create a client");
  CURL* curl = handle.get();
  HeaderList header_list;
  for (const auto& [name, value] : headers) header_list.add(name, value);
  MetadataAnswer answer;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeouts.connect_ms);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeouts.total_ms);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list.get());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_metadata_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer.body);
  const CURLcode code = curl_easy_perform(curl);
  if (code != CURLE_OK) {
    throw metadata_error(
        url + ": " +
        (code == CURLE_WRITE_ERROR ? std::string("answer too large") : curl_easy_strerror(code)));
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &answer.status);
  return answer;
}

MetadataAnswer expect_ok(MetadataAnswer answer, const std::string& url) {
  if (answer.status != 200) throw metadata_error(url + ": HTTP " + std::to_string(answer.status));
  return answer;
}

// "2017-05-17T15:09:54Z" (fractions of a second allowed, and "+00:00" for "Z").
std::optional<system_clock::time_point> parse_utc_timestamp(const std::string& text) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &month, &day, &hour, &minute, &second,
                  &consumed) != 6) {
    return std::nullopt;
  }
  std::string_view rest = std::string_view(text).substr(static_cast<std::size_t>(consumed));
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    while (!rest.empty() && rest.front() >= '0' && rest.front() <= '9') rest.remove_prefix(1);
  }
  if (rest != "Z" && rest != "+00:00") return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  std::tm utc{};
  utc.tm_year = year - 1900;
  utc.tm_mon = month - 1;
  utc.tm_mday = day;
  utc.tm_hour = hour;
  utc.tm_min = minute;
  utc.tm_sec = second;
  return system_clock::from_time_t(timegm(&utc));
}

// The JSON document both endpoints answer with: AccessKeyId, SecretAccessKey, Token,
// Expiration (and, from IMDS, Code "Success").
TemporaryCredentials parse_credentials_document(const std::string& body, const std::string& url) {
  const auto fail = [&](const std::string& why) { return metadata_error(url + ": " + why); };
  const nlohmann::json document = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!document.is_object()) throw fail("answer is not a JSON object");
  const auto text = [&](const char* name) {
    const auto found = document.find(name);
    return found != document.end() && found->is_string() ? found->get<std::string>() : std::string();
  };
  if (const std::string code = text("Code"); !code.empty() && code != "Success") {
    throw fail("Code is '" + code + "', not Success");
  }
  TemporaryCredentials result;
  result.credentials = {text("AccessKeyId"), text("SecretAccessKey"), text("Token")};
  if (result.credentials.access_key.empty() || result.credentials.secret_key.empty()) {
    throw fail("no AccessKeyId and SecretAccessKey in the answer");
  }
  const auto expiration = parse_utc_timestamp(text("Expiration"));
  if (!expiration) throw fail("no Expiration in the answer");
  result.expiration = *expiration;
  if (result.expiration <= system_clock::now()) throw fail("the credentials have already expired");
  return result;
}

// The host of "scheme://host[:port]/..." ("[::1]" keeps its brackets).
std::string_view url_host(std::string_view url) {
  const std::size_t separator = url.find("://");
  std::string_view authority = separator == std::string_view::npos ? url : url.substr(separator + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (!authority.empty() && authority.front() == '[') return authority.substr(0, authority.find(']') + 1);
  return authority.substr(0, authority.find(':'));
}

// What the AWS SDKs allow a plain-http full URI to reach: this machine, the ECS
// endpoint and the EKS Pod Identity agent; anything else could be a stranger
// reading our token.
bool allowed_container_host(std::string_view host) {
  const bool loopback_v4 =
      host.substr(0, 4) == "127." && host.find_first_not_of("0123456789.") == std::string_view::npos;
  return loopback_v4 || host == "localhost" || host == "[::1]" || host == "169.254.170.2" ||
         host == "169.254.170.23" || host == "[fd00:ec2::23]";
}

// ---- the chain -----------------------------------------------------------------------------

std::shared_ptr<AwsCredentialsProvider> resolve_chain(const AwsSettings& settings) {
  if (!settings.access_key_id.empty() || !settings.secret_access_key.empty()) {
    if (settings.access_key_id.empty()) {
      throw std::invalid_argument("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not");
    }
    if (settings.secret_access_key.empty()) {
      throw std::invalid_argument("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
    }
    return static_credentials({settings.access_key_id, settings.secret_access_key, settings.session_token},
                              "environment (AWS_ACCESS_KEY_ID)");
  }

  std::vector<std::string> tried;
  if (auto from_file = credentials_from_file(settings, tried)) return from_file;

  if (const auto endpoint = container_endpoint(settings)) {
    try {
      return std::make_shared<RefreshingCredentials>(
          "container endpoint " + endpoint->url,
          [endpoint = *endpoint] { return fetch_container_credentials(endpoint); });
    } catch (const Error& error) {
      tried.emplace_back(error.what());
    }
  }

  if (settings.ec2_metadata_disabled) {
    tried.emplace_back("instance metadata disabled (AWS_EC2_METADATA_DISABLED)");
  } else {
    std::string endpoint = settings.ec2_metadata_service_endpoint.empty()
                               ? std::string(kImdsEndpoint)
                               : settings.ec2_metadata_service_endpoint;
    while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
    try {
      return std::make_shared<RefreshingCredentials>("EC2 instance metadata " + endpoint,
                                                     [endpoint] { return fetch_imds_credentials(endpoint); });
    } catch (const Error& error) {
      tried.emplace_back(error.what());
    }
  }

  std::string reasons;
  for (const std::string& reason : tried) reasons += (reasons.empty() ? "" : "; ") + reason;
  throw std::invalid_argument(
      "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or provide a credentials file, a "
      "container role or an instance profile (tried: " +
      reasons + ")");
}

// Walks the chain at the first get() and keeps what it found.
class CredentialChain : public AwsCredentialsProvider {
 public:
  explicit CredentialChain(AwsSettings settings) : settings_(std::move(settings)) {}

  AwsCredentials get() override {
    std::shared_ptr<AwsCredentialsProvider> chosen;
    {
      std::lock_guard lock(mutex_);
      if (!chosen_) {
        chosen_ = resolve_chain(settings_);
        log_event("info", "AWS credentials from " + chosen_->describe());
      }
      chosen = chosen_;
    }
    return chosen->get();  // outside the lock: a refreshing source has its own
  }

  std::string describe() const override {
    std::lock_guard lock(mutex_);
    return chosen_ ? chosen_->describe() : "the AWS credential chain (not walked yet)";
  }

 private:
  AwsSettings settings_;
  mutable std::mutex mutex_;
  std::shared_ptr<AwsCredentialsProvider> chosen_;
};

}  // namespace

std::shared_ptr<AwsCredentialsProvider> static_credentials(AwsCredentials credentials, std::string source) {
  return std::make_shared<StaticCredentials>(std::move(credentials), std::move(source));
}

std::shared_ptr<AwsCredentialsProvider> aws_credential_chain(const AwsSettings& settings) {
  return std::make_shared<CredentialChain>(settings);
}

// ---- container and instance metadata ---------------------------------------------------------

std::optional<ContainerEndpoint> container_endpoint(const AwsSettings& settings, std::string_view ecs_host) {
  ContainerEndpoint endpoint;
  const std::string& relative = settings.container_credentials_relative_uri;
  const std::string& full = settings.container_credentials_full_uri;
  if (!relative.empty()) {
    endpoint.url = std::string(ecs_host) + (relative.front() == '/' ? "" : "/") + relative;
  } else if (!full.empty()) {
    const bool https = to_lower(full.substr(0, 8)) == "https://";
    const bool http = to_lower(full.substr(0, 7)) == "http://";
    if (!https && !(http && allowed_container_host(url_host(full)))) {
      throw std::invalid_argument(
          "invalid aws-container-credentials-full-uri (AWS_CONTAINER_CREDENTIALS_FULL_URI): https, or http "
          "to "
          "loopback, 169.254.170.2 or 169.254.170.23: '" +
          full + "'");
    }
    endpoint.url = full;
  } else {
    return std::nullopt;
  }
  endpoint.authorization_token = settings.container_authorization_token;
  endpoint.authorization_token_file = settings.container_authorization_token_file;
  return endpoint;
}

TemporaryCredentials fetch_container_credentials(const ContainerEndpoint& endpoint,
                                                 const MetadataTimeouts& timeouts) {
  std::string token = endpoint.authorization_token;
  if (!endpoint.authorization_token_file.empty()) {
    std::ifstream file(endpoint.authorization_token_file);
    std::stringstream contents;
    contents << file.rdbuf();
    if (!file) {
      throw metadata_error("cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE '" +
                           endpoint.authorization_token_file + "'");
    }
    token = std::string(trim(contents.str()));
  }
  // It goes into a raw header line.
  if (token.find_first_of("\r\n") != std::string::npos) {
    throw metadata_error("the container authorization token has a line break");
  }
  NameValueList headers;
  if (!token.empty()) headers.emplace_back("Authorization", token);
  const MetadataAnswer answer =
      expect_ok(metadata_request("GET", endpoint.url, headers, timeouts), endpoint.url);
  return parse_credentials_document(answer.body, endpoint.url);
}

TemporaryCredentials fetch_imds_credentials(const std::string& endpoint, const MetadataTimeouts& timeouts) {
  const std::string token_url = endpoint + "/latest/api/token";
  const std::string token = std::string(trim(
      expect_ok(metadata_request("PUT", token_url,
                                 {{"X-aws-ec2-metadata-token-ttl-seconds", kImdsTokenTtlSeconds}}, timeouts),
                token_url)
          .body));
  if (token.empty() || token.find_first_of("\r\n") != std::string::npos) {
    throw metadata_error(token_url + ": no usable session token");
  }
  const NameValueList with_token = {{"X-aws-ec2-metadata-token", token}};

  const std::string roles_url = endpoint + "/latest/meta-data/iam/security-credentials/";
  const MetadataAnswer roles = metadata_request("GET", roles_url, with_token, timeouts);
  if (roles.status == 404)
    throw metadata_error(roles_url + ": this instance has no instance profile (HTTP 404)");
  const std::string body = expect_ok(roles, roles_url).body;
  // One role per instance profile; the name goes into the next URL.
  const std::string role(trim(std::string_view(body).substr(0, body.find('\n'))));
  const bool plain_name = !role.empty() && role.find_first_not_of(
                                               "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                               "0123456789+=,.@_-") == std::string::npos;
  if (!plain_name) throw metadata_error(roles_url + ": no role name in the answer");

  const std::string credentials_url = roles_url + role;
  return parse_credentials_document(
      expect_ok(metadata_request("GET", credentials_url, with_token, timeouts), credentials_url).body,
      credentials_url);
}

// ---- refreshing -----------------------------------------------------------------------------

struct RefreshingCredentials::State {
  std::mutex mutex;
  std::condition_variable wake;     // the refresher waits here for work
  std::condition_variable fetched;  // requests holding expired credentials wait here
  TemporaryCredentials current;
  bool wanted = false;  // a fetch is asked for or running
  bool stopping = false;
  std::uint64_t fetches = 0;  // fetches ended, so a waiter can tell that one did
  steady_clock::time_point next_background{};
  std::thread refresher;
};

RefreshingCredentials::RefreshingCredentials(std::string source, Fetch fetch, RefreshPolicy policy)
    : source_(std::move(source)),
      fetch_(std::move(fetch)),
      policy_(policy),
      state_(std::make_unique<State>()) {
  state_->current = fetch_();  // a source that cannot give credentials now is not used
  state_->refresher = std::thread([this] {
    name_this_thread("if-credentials");
    refresh_loop();
  });
}

RefreshingCredentials::~RefreshingCredentials() {
  {
    std::lock_guard lock(state_->mutex);
    state_->stopping = true;
  }
  state_->wake.notify_all();
  state_->fetched.notify_all();
  state_->refresher.join();
}

AwsCredentials RefreshingCredentials::get() {
  State& state = *state_;
  std::unique_lock lock(state.mutex);
  const auto now = system_clock::now();
  if (now < state.current.expiration - policy_.refresh_ahead) return state.current.credentials;

  if (now < state.current.expiration) {
    // Still valid: a fetch in the background, and sign with these meanwhile.
    if (!state.wanted && steady_clock::now() >= state.next_background) {
      state.wanted = true;
      state.wake.notify_one();
    }
    return state.current.credentials;
  }

  // Expired: nothing valid to sign with, so wait for a fetch (bounded by its timeouts).
  const std::uint64_t seen = state.fetches;
  if (!state.wanted) {
    state.wanted = true;
    state.wake.notify_one();
  }
  state.fetched.wait(lock, [&] { return state.fetches != seen || state.stopping; });
  if (system_clock::now() < state.current.expiration) return state.current.credentials;
  throw Error(ErrorKind::kStoreUnavailable,
              "storage unavailable: AWS credentials expired and could not be fetched again");
}

void RefreshingCredentials::refresh_loop() {
  State& state = *state_;
  std::unique_lock lock(state.mutex);
  for (;;) {
    state.wake.wait(lock, [&] { return state.wanted || state.stopping; });
    if (state.stopping) return;
    lock.unlock();
    std::optional<TemporaryCredentials> fresh;
    std::string failure;
    try {
      fresh = fetch_();
    } catch (const std::exception& error) {
      failure = error.what();
    }
    if (!failure.empty()) log_event("warn", "AWS credentials from " + source_ + " not refreshed: " + failure);
    lock.lock();
    if (fresh) state.current = std::move(*fresh);
    state.wanted = false;
    ++state.fetches;
    state.next_background = steady_clock::now() + policy_.min_interval;
    state.fetched.notify_all();
  }
}

}  // namespace imageflex
