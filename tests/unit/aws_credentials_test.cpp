// Where AWS credentials come from: the chain (environment keys, the shared credentials
// file, the container endpoint, EC2 instance metadata), each metadata source against a
// real HTTP responder on 127.0.0.1 speaking its wire format, and the refresh of
// temporary credentials before they expire.
#include "storage/aws_credentials.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/config.h"
#include "common/error.h"
#include "scripted_server.h"

namespace imageflex {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;
using std::chrono::system_clock;
using test::ok;
using test::Reply;
using test::ScriptedServer;
using test::status_only;

using Environment = std::map<std::string, std::string>;

constexpr const char* kNoHome = "/nonexistent-imageflex-test-home";

// ---- helpers ------------------------------------------------------------------------

// The chain for this environment. No real ~/.aws/credentials and no real instance
// metadata service may leak into a test, so HOME and IMDS are off unless given.
std::shared_ptr<AwsCredentialsProvider> chain_for(Environment environment) {
  environment.emplace("HOME", kNoHome);
  environment.emplace("AWS_EC2_METADATA_DISABLED", "true");
  return aws_credential_chain(load_config({}, environment).aws);
}

// The message of the std::invalid_argument the chain's first get() throws, or "".
std::string chain_error(const Environment& environment) {
  try {
    chain_for(environment)->get();
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return "";
}

template <typename Call>
std::string error_message(Call&& call) {
  try {
    call();
  } catch (const std::exception& error) {
    return error.what();
  }
  return "";
}

std::string iso_utc(system_clock::time_point when) {
  const std::time_t seconds = system_clock::to_time_t(when);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

// What IMDS answers for a role's credentials.
std::string imds_document(const std::string& key, seconds lifetime) {
  return "{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : \"" + iso_utc(system_clock::now()) +
         "\",\n  \"Type\" : \"AWS-HMAC\",\n  \"AccessKeyId\" : \"" + key +
         "\",\n  \"SecretAccessKey\" : \"secret-" + key + "\",\n  \"Token\" : \"token-" + key +
         "\",\n  \"Expiration\" : \"" + iso_utc(system_clock::now() + lifetime) + "\"\n}";
}

// What the ECS and EKS container endpoints answer.
Reply container_document(const std::string& key, seconds lifetime) {
  return ok(R"({"AccessKeyId":")" + key + R"(","Expiration":")" + iso_utc(system_clock::now() + lifetime) +
                R"(","RoleArn":"arn:aws:iam::123456789012:role/task","SecretAccessKey":"secret-)" + key +
                R"(","Token":"token-)" + key + "\"}",
            {{"Content-Type", "application/json"}});
}

class TempFile {
 public:
  explicit TempFile(const std::string& contents) {
    path_ = ::testing::TempDir() + "/imageflex_aws_XXXXXX";
    const int fd = mkstemp(path_.data());
    EXPECT_GE(fd, 0);
    close(fd);
    write(contents);
  }
  ~TempFile() { std::remove(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  void write(const std::string& contents) const { std::ofstream(path_, std::ios::trunc) << contents; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// ---- environment keys and the shared credentials file ---------------------------------

TEST(AwsCredentialChain, KeysFromEnvironment) {
  const AwsCredentials credentials = chain_for({{"AWS_ACCESS_KEY_ID", "test:tester"},
                                                {"AWS_SECRET_ACCESS_KEY", "testing"},
                                                {"AWS_SESSION_TOKEN", "session"}})
                                         ->get();
  EXPECT_EQ(credentials.access_key, "test:tester");
  EXPECT_EQ(credentials.secret_key, "testing");
  EXPECT_EQ(credentials.session_token, "session");

  EXPECT_NE(chain_error({{"AWS_ACCESS_KEY_ID", "test:tester"}}).find("AWS_SECRET_ACCESS_KEY"),
            std::string::npos);
  EXPECT_NE(chain_error({{"AWS_SECRET_ACCESS_KEY", "testing"}}).find("AWS_ACCESS_KEY_ID"), std::string::npos);
}

TEST(AwsCredentialChain, FlagsWinOverTheEnvironment) {
  const Config config =
      load_config({{"aws-access-key-id", "FLAGKEY"}, {"aws-secret-access-key", "flagsecret"}},
                  {{"AWS_ACCESS_KEY_ID", "ENVKEY"}, {"AWS_SECRET_ACCESS_KEY", "envsecret"}});
  EXPECT_EQ(aws_credential_chain(config.aws)->get().access_key, "FLAGKEY");
}

TEST(AwsCredentialChain, NoCredentialsAnywhere) {
  const std::string message = chain_error({});
  EXPECT_NE(message.find("AWS_ACCESS_KEY_ID"), std::string::npos) << message;
  EXPECT_NE(message.find("AWS_EC2_METADATA_DISABLED"), std::string::npos)
      << "says what it tried: " << message;
}

TEST(AwsCredentialChain, CredentialsFileWithProfile) {
  const TempFile file(
      "# comment\n"
      "[default]\n"
      "aws_access_key_id = DEFAULTKEY\n"
      "aws_secret_access_key = defaultsecret\n"
      "\n"
      "[staging]\n"
      "  aws_access_key_id=STAGINGKEY  \n"
      "aws_secret_access_key = staging/secret+x\n"
      "aws_session_token = stagingtoken\n"
      "[empty]\n"
      "region = eu-west-1\n");
  Environment environment = {{"AWS_SHARED_CREDENTIALS_FILE", file.path()}};

  AwsCredentials credentials = chain_for(environment)->get();
  EXPECT_EQ(credentials.access_key, "DEFAULTKEY");
  EXPECT_EQ(credentials.secret_key, "defaultsecret");
  EXPECT_EQ(credentials.session_token, "");

  environment["AWS_PROFILE"] = "staging";
  credentials = chain_for(environment)->get();
  EXPECT_EQ(credentials.access_key, "STAGINGKEY");
  EXPECT_EQ(credentials.secret_key, "staging/secret+x");
  EXPECT_EQ(credentials.session_token, "stagingtoken");

  environment["AWS_PROFILE"] = "empty";
  EXPECT_NE(chain_error(environment).find("[empty]"), std::string::npos);
  environment["AWS_PROFILE"] = "absent";
  EXPECT_NE(chain_error(environment).find("AWS_PROFILE"), std::string::npos);

  // Keys in the environment win over the file.
  environment["AWS_ACCESS_KEY_ID"] = "test:tester";
  environment["AWS_SECRET_ACCESS_KEY"] = "testing";
  EXPECT_EQ(chain_for(environment)->get().access_key, "test:tester");
}

TEST(AwsCredentialChain, CredentialsFileUnderHome) {
  const std::string dir = ::testing::TempDir() + "/imageflex_home_test";
  ASSERT_EQ(std::system(("mkdir -p '" + dir + "/.aws'").c_str()), 0);
  std::ofstream(dir + "/.aws/credentials") << "[default]\naws_access_key_id=K\naws_secret_access_key=S\n";
  const AwsCredentials credentials = chain_for({{"HOME", dir}})->get();
  EXPECT_EQ(credentials.access_key, "K");
  EXPECT_EQ(credentials.secret_key, "S");
  std::remove((dir + "/.aws/credentials").c_str());
}

TEST(AwsCredentialChain, UnreadableCredentialsFileNamesTheSetting) {
  EXPECT_NE(chain_error({{"AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials"}})
                .find("AWS_SHARED_CREDENTIALS_FILE"),
            std::string::npos);
}

// ---- the container endpoint -----------------------------------------------------------

TEST(ContainerCredentials, RelativeUriOnTheEcsHost) {
  ScriptedServer server({container_document("ASIAECS", seconds(3600))});
  AwsSettings settings;
  settings.container_credentials_relative_uri = "/v2/credentials/5f1c-task";
  EXPECT_EQ(container_endpoint(settings)->url, "http://169.254.170.2/v2/credentials/5f1c-task");

  // The same path, asked of the responder standing in for 169.254.170.2.
  const auto endpoint = container_endpoint(settings, server.endpoint());
  ASSERT_TRUE(endpoint.has_value());
  const TemporaryCredentials fetched = fetch_container_credentials(*endpoint);

  EXPECT_EQ(fetched.credentials.access_key, "ASIAECS");
  EXPECT_EQ(fetched.credentials.secret_key, "secret-ASIAECS");
  EXPECT_EQ(fetched.credentials.session_token, "token-ASIAECS");
  EXPECT_GT(fetched.expiration, system_clock::now() + seconds(3500));
  EXPECT_LT(fetched.expiration, system_clock::now() + seconds(3700));
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[0].target, "/v2/credentials/5f1c-task");
  EXPECT_EQ(requests[0].header("authorization"), "<absent>");
}

TEST(ContainerCredentials, FullUriWithTokenAndTokenFile) {
  ScriptedServer server({container_document("ASIAONE", seconds(3600)),
                         container_document("ASIATWO", seconds(3600)),
                         container_document("ASIATHREE", seconds(3600))});
  AwsSettings settings;
  settings.container_credentials_full_uri = server.endpoint() + "/v1/credentials";
  settings.container_authorization_token = "Bearer plain-token";

  EXPECT_EQ(fetch_container_credentials(*container_endpoint(settings)).credentials.access_key, "ASIAONE");

  // The file wins over the plain token, and is read at every fetch: the agent rotates it.
  const TempFile token_file("Bearer from-file-1\n");
  settings.container_authorization_token_file = token_file.path();
  const auto endpoint = container_endpoint(settings);
  EXPECT_EQ(fetch_container_credentials(*endpoint).credentials.access_key, "ASIATWO");
  token_file.write("Bearer from-file-2");
  EXPECT_EQ(fetch_container_credentials(*endpoint).credentials.access_key, "ASIATHREE");

  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].target, "/v1/credentials");
  EXPECT_EQ(requests[0].header("authorization"), "Bearer plain-token");
  EXPECT_EQ(requests[1].header("authorization"), "Bearer from-file-1");
  EXPECT_EQ(requests[2].header("authorization"), "Bearer from-file-2");
}

TEST(ContainerCredentials, FullUriMustBeHttpsOrLocal) {
  for (const char* uri : {"https://credentials.example.com/v1", "http://127.0.0.1:9911/creds",
                          "http://127.0.0.2/x", "http://localhost:80/x", "http://[::1]:9911/x",
                          "http://169.254.170.2/v2/x", "http://169.254.170.23/v1/credentials"}) {
    AwsSettings settings;
    settings.container_credentials_full_uri = uri;
    EXPECT_EQ(error_message([&] { container_endpoint(settings); }), "") << uri;
  }
  for (const char* uri : {"http://credentials.example.com/v1", "http://127.0.0.1.example.com/x",
                          "http://10.0.0.1/creds", "ftp://127.0.0.1/x"}) {
    AwsSettings settings;
    settings.container_credentials_full_uri = uri;
    EXPECT_NE(error_message([&] { container_endpoint(settings); }).find("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
              std::string::npos)
        << uri;
  }
}

TEST(ContainerCredentials, ChosenByTheChainAfterTheFile) {
  ScriptedServer server({container_document("ASIACHAIN", seconds(3600))});
  const auto chain = chain_for({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", server.endpoint() + "/creds"},
                                {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "secret-token"}});
  EXPECT_EQ(chain->get().access_key, "ASIACHAIN");
  EXPECT_EQ(chain->get().session_token, "token-ASIACHAIN");
  EXPECT_EQ(server.requests().size(), 1u) << "fetched once, then cached until near expiry";
  EXPECT_NE(chain->describe().find("container"), std::string::npos) << chain->describe();
  EXPECT_EQ(chain->describe().find("secret-token"), std::string::npos) << "no secrets in logs";

  // A credentials file comes first in the chain: the endpoint is not asked.
  const TempFile file("[default]\naws_access_key_id=FILEKEY\naws_secret_access_key=filesecret\n");
  EXPECT_EQ(chain_for({{"AWS_SHARED_CREDENTIALS_FILE", file.path()},
                       {"AWS_CONTAINER_CREDENTIALS_FULL_URI", server.endpoint() + "/creds"}})
                ->get()
                .access_key,
            "FILEKEY");
  EXPECT_EQ(server.requests().size(), 1u);
}

// ---- EC2 instance metadata (IMDSv2) -----------------------------------------------------

TEST(ImdsCredentials, TokenThenRoleThenCredentials) {
  ScriptedServer server(
      {ok("AQAEAtoken=="), ok("imageflex-node\n"), ok(imds_document("ASIAIMDS", seconds(21600)))});

  const TemporaryCredentials fetched = fetch_imds_credentials(server.endpoint());

  EXPECT_EQ(fetched.credentials.access_key, "ASIAIMDS");
  EXPECT_EQ(fetched.credentials.secret_key, "secret-ASIAIMDS");
  EXPECT_EQ(fetched.credentials.session_token, "token-ASIAIMDS");
  EXPECT_GT(fetched.expiration, system_clock::now() + seconds(21000));
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].method, "PUT");
  EXPECT_EQ(requests[0].target, "/latest/api/token");
  EXPECT_EQ(requests[0].header("x-aws-ec2-metadata-token-ttl-seconds"), "21600");
  EXPECT_EQ(requests[1].method, "GET");
  EXPECT_EQ(requests[1].target, "/latest/meta-data/iam/security-credentials/");
  EXPECT_EQ(requests[1].header("x-aws-ec2-metadata-token"), "AQAEAtoken==");
  EXPECT_EQ(requests[2].method, "GET");
  EXPECT_EQ(requests[2].target, "/latest/meta-data/iam/security-credentials/imageflex-node");
  EXPECT_EQ(requests[2].header("x-aws-ec2-metadata-token"), "AQAEAtoken==");
}

TEST(ImdsCredentials, LastInTheChainAtTheConfiguredEndpoint) {
  ScriptedServer server({ok("token"), ok("role"), ok(imds_document("ASIACHAINIMDS", seconds(3600)))});
  const auto chain = aws_credential_chain(
      load_config({}, {{"HOME", kNoHome}, {"AWS_EC2_METADATA_SERVICE_ENDPOINT", server.endpoint() + "/"}})
          .aws);
  EXPECT_EQ(chain->get().access_key, "ASIACHAINIMDS");
  EXPECT_NE(chain->describe().find("instance metadata"), std::string::npos) << chain->describe();
}

TEST(ImdsCredentials, AFailingContainerEndpointFallsThroughToImds) {
  ScriptedServer container({status_only(500)});
  ScriptedServer imds({ok("token"), ok("role"), ok(imds_document("ASIAFALLBACK", seconds(3600)))});
  const auto chain = aws_credential_chain(
      load_config({}, {{"HOME", kNoHome},
                       {"AWS_CONTAINER_CREDENTIALS_FULL_URI", container.endpoint() + "/creds"},
                       {"AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.endpoint()}})
          .aws);
  EXPECT_EQ(chain->get().access_key, "ASIAFALLBACK");
  EXPECT_EQ(container.requests().size(), 1u);
}

TEST(ImdsCredentials, NoInstanceProfileIsSaid) {
  ScriptedServer server({ok("token"), status_only(404)});
  const std::string message = error_message([&] { fetch_imds_credentials(server.endpoint()); });
  EXPECT_NE(message.find("no instance profile"), std::string::npos) << message;
}

TEST(ImdsCredentials, BadAnswersAreClearErrors) {
  struct Case {
    std::vector<Reply> script;
    std::string expected;
  };
  const Case cases[] = {
      {{status_only(403)}, "/latest/api/token: HTTP 403"},
      {{ok("token"), ok("role"), ok("<html>not json</html>")}, "not a JSON object"},
      {{ok("token"), ok("role"), ok(R"({"Code":"AssumeRoleUnauthorizedAccess"})")},
       "AssumeRoleUnauthorizedAccess"},
      {{ok("token"), ok("role"), ok(R"({"Code":"Success","AccessKeyId":"A"})")}, "no AccessKeyId"},
      {{ok("token"), ok("role"), ok(imds_document("ASIAOLD", seconds(-60)))}, "already expired"},
      {{ok("token"), ok("../../etc")}, "no role name"},
  };
  for (const Case& c : cases) {
    ScriptedServer server(c.script);
    const std::string message = error_message([&] { fetch_imds_credentials(server.endpoint()); });
    EXPECT_NE(message.find(c.expected), std::string::npos) << message;
    EXPECT_EQ(message.find("secret-"), std::string::npos) << "no secrets in errors: " << message;
  }
}

TEST(MetadataEndpoints, AFailingEndpointIsAClearErrorNotAHang) {
  const MetadataTimeouts timeouts{500, 800};

  // Nothing listening.
  const std::string closed = "http://127.0.0.1:" + std::to_string(test::closed_port());
  auto start = steady_clock::now();
  std::string message = error_message([&] { fetch_imds_credentials(closed, timeouts); });
  EXPECT_NE(message.find(closed + "/latest/api/token"), std::string::npos) << message;
  EXPECT_LT(steady_clock::now() - start, milliseconds(1500));

  // Listening, but never answering.
  ScriptedServer silent({}, test::hang(milliseconds(10000)));
  start = steady_clock::now();
  message = error_message([&] {
    fetch_container_credentials({silent.endpoint() + "/creds", "", ""}, timeouts);
  });
  const auto elapsed = steady_clock::now() - start;
  EXPECT_NE(message.find("/creds"), std::string::npos) << message;
  EXPECT_NE(message.find("imeout"), std::string::npos) << message;
  EXPECT_LT(elapsed, milliseconds(2000)) << "bounded by the total timeout";

  // Through the chain at start: a clear std::invalid_argument naming both sources.
  ScriptedServer failing({}, status_only(500));
  start = steady_clock::now();
  message = error_message([&] {
    aws_credential_chain(
        load_config({}, {{"HOME", kNoHome},
                         {"AWS_CONTAINER_CREDENTIALS_FULL_URI", failing.endpoint() + "/creds"},
                         {"AWS_EC2_METADATA_SERVICE_ENDPOINT", closed}})
            .aws)
        ->get();
  });
  EXPECT_NE(message.find("no S3 credentials"), std::string::npos) << message;
  EXPECT_NE(message.find("/creds: HTTP 500"), std::string::npos) << message;
  EXPECT_NE(message.find(closed), std::string::npos) << message;
  EXPECT_LT(steady_clock::now() - start, milliseconds(3000));
}

// ---- refreshing -----------------------------------------------------------------------------

std::shared_ptr<RefreshingCredentials> refreshing(const ScriptedServer& server, RefreshPolicy policy) {
  const ContainerEndpoint endpoint{server.endpoint() + "/creds", "", ""};
  return std::make_shared<RefreshingCredentials>(
      "test endpoint", [endpoint] { return fetch_container_credentials(endpoint); }, policy);
}

TEST(RefreshingCredentials, NotFetchedAgainWhileFarFromExpiry) {
  ScriptedServer server({container_document("ASIAHOUR", seconds(3600))});
  const auto credentials = refreshing(server, {seconds(300), milliseconds(0)});
  for (int i = 0; i < 20; ++i) EXPECT_EQ(credentials->get().access_key, "ASIAHOUR");
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(RefreshingCredentials, RefreshedInTheBackgroundBeforeTheyExpire) {
  Reply slow_second = container_document("ASIANEW", seconds(3600));
  slow_second.delay = milliseconds(1500);
  // The first set expires in 4 minutes: inside the 5-minute refresh window.
  ScriptedServer server({container_document("ASIAOLD", seconds(240)), slow_second});
  const auto credentials = refreshing(server, {seconds(300), milliseconds(0)});

  // While the slow fetch runs, every caller, on any thread, signs with the old keys
  // at once; exactly one fetch is made.
  std::atomic<int> wrong{0};
  std::atomic<long long> slowest_us{0};
  std::vector<std::thread> threads;
  threads.reserve(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        const auto start = steady_clock::now();
        const std::string key = credentials->get().access_key;
        const long long us =
            std::chrono::duration_cast<std::chrono::microseconds>(steady_clock::now() - start).count();
        if (key != "ASIAOLD" && key != "ASIANEW") ++wrong;
        long long seen = slowest_us.load();
        while (us > seen && !slowest_us.compare_exchange_weak(seen, us)) {
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
  // Far below the fetch's 1.5 s, with room for a busy machine.
  EXPECT_LT(slowest_us.load(), 750'000) << "a caller waited for the background refresh";

  const auto deadline = steady_clock::now() + seconds(5);
  while (credentials->get().access_key != "ASIANEW" && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_EQ(credentials->get().access_key, "ASIANEW");
  EXPECT_EQ(credentials->get().session_token, "token-ASIANEW");
  EXPECT_EQ(server.requests().size(), 2u) << "one refresh for all the callers";
}

TEST(RefreshingCredentials, AFailedRefreshKeepsTheValidOnes) {
  ScriptedServer server({container_document("ASIAOLD", seconds(240)), status_only(500)},
                        container_document("ASIALATER", seconds(3600)));
  const auto credentials = refreshing(server, {seconds(300), milliseconds(60'000)});

  EXPECT_EQ(credentials->get().access_key, "ASIAOLD");  // starts the refresh, which fails
  const auto deadline = steady_clock::now() + seconds(5);
  while (server.requests().size() < 2 && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(20));
  }
  std::this_thread::sleep_for(milliseconds(100));
  for (int i = 0; i < 10; ++i) EXPECT_EQ(credentials->get().access_key, "ASIAOLD");
  EXPECT_EQ(server.requests().size(), 2u) << "min_interval holds off the next try";
}

TEST(RefreshingCredentials, ExpiredOnesWaitForTheFetchOrFailClearly) {
  // A lifetime of two seconds (one to two, as Expiration has whole seconds), and no
  // refresh ahead: the request after expiry must fetch and wait.
  ScriptedServer server({container_document("ASIASHORT", seconds(2)), status_only(503)},
                        container_document("ASIANEXT", seconds(3600)));
  const auto credentials = refreshing(server, {seconds(0), milliseconds(0)});
  EXPECT_EQ(credentials->get().access_key, "ASIASHORT");
  std::this_thread::sleep_for(milliseconds(2100));

  const auto start = steady_clock::now();
  try {
    credentials->get();
    ADD_FAILURE() << "expired credentials were handed out";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kStoreUnavailable);
    EXPECT_NE(std::string(error.what()).find("expired"), std::string::npos) << error.what();
    EXPECT_EQ(std::string(error.what()).find("127.0.0.1"), std::string::npos) << "clients see this reason";
  }
  EXPECT_LT(steady_clock::now() - start, milliseconds(2500));

  EXPECT_EQ(credentials->get().access_key, "ASIANEXT") << "the next request fetches again";
  EXPECT_EQ(server.requests().size(), 3u);
}

}  // namespace
}  // namespace imageflex
