// The SigV4 signer against the worked examples in AWS's S3 documentation
// ("Signature Calculations for the Authorization Header: Transferring Payload in a
// Single Chunk"), plus the S3 backend's pure helpers: configuration from the
// environment and HTTP date parsing.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/error.h"
#include "storage/s3_storage.h"
#include "storage/sigv4.h"

namespace imageflex {
namespace {

using std::chrono::sys_days;
using std::chrono::year;

// Shared by all AWS examples.
const AwsCredentials kExampleCredentials{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                                         ""};
constexpr const char* kExampleHost = "examplebucket.s3.amazonaws.com";

std::chrono::system_clock::time_point example_time() {
  return sys_days{year{2013} / 5 / 24};  // 20130524T000000Z
}

std::string header(const SigV4Result& result, const std::string& name) {
  for (const auto& [key, value] : result.headers) {
    if (key == name) return value;
  }
  return "<absent>";
}

SigV4Request example_get(std::vector<std::pair<std::string, std::string>> query) {
  SigV4Request request;
  request.method = "GET";
  request.canonical_uri = "/";
  request.query = std::move(query);
  request.headers = {{"Host", kExampleHost}};
  request.payload_sha256 = std::string(kEmptyPayloadSha256);
  return request;
}

TEST(SigV4, EmptyPayloadHashIsSha256OfNothing) {
  EXPECT_EQ(sha256_hex(""), kEmptyPayloadSha256);
  EXPECT_EQ(sha256_hex("Welcome to Amazon S3."),
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
}

TEST(SigV4, FormatsAmzDate) {
  EXPECT_EQ(format_amz_date(example_time()), "20130524T000000Z");
  EXPECT_EQ(format_amz_date(example_time() + std::chrono::seconds(3600 * 13 + 62)), "20130524T130102Z");
}

TEST(SigV4, AwsExampleGetObject) {
  SigV4Request request;
  request.method = "GET";
  request.canonical_uri = "/test.txt";
  request.headers = {{"Host", kExampleHost}, {"Range", "bytes=0-9"}};
  request.payload_sha256 = std::string(kEmptyPayloadSha256);

  const SigV4Result result = sign_v4(request, "us-east-1", "s3", kExampleCredentials, example_time());

  EXPECT_EQ(result.canonical_request,
            "GET\n"
            "/test.txt\n"
            "\n"
            "host:examplebucket.s3.amazonaws.com\n"
            "range:bytes=0-9\n"
            "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
            "x-amz-date:20130524T000000Z\n"
            "\n"
            "host;range;x-amz-content-sha256;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(result.string_to_sign,
            "AWS4-HMAC-SHA256\n"
            "20130524T000000Z\n"
            "20130524/us-east-1/s3/aws4_request\n"
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  EXPECT_EQ(result.signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(header(result, "Authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(header(result, "x-amz-date"), "20130524T000000Z");
  EXPECT_EQ(header(result, "x-amz-content-sha256"), kEmptyPayloadSha256);
  EXPECT_EQ(header(result, "x-amz-security-token"), "<absent>");
}

TEST(SigV4, AwsExamplePutObject) {
  const std::string body = "Welcome to Amazon S3.";
  SigV4Request request;
  request.method = "PUT";
  request.canonical_uri = "/" + uri_encode("test$file.text", false);
  request.headers = {{"Host", kExampleHost},
                     {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                     {"x-amz-storage-class", "REDUCED_REDUNDANCY"}};
  request.payload_sha256 = sha256_hex(body);

  const SigV4Result result = sign_v4(request, "us-east-1", "s3", kExampleCredentials, example_time());

  EXPECT_EQ(request.canonical_uri, "/test%24file.text");
  EXPECT_EQ(result.canonical_request,
            "PUT\n"
            "/test%24file.text\n"
            "\n"
            "date:Fri, 24 May 2013 00:00:00 GMT\n"
            "host:examplebucket.s3.amazonaws.com\n"
            "x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
            "x-amz-date:20130524T000000Z\n"
            "x-amz-storage-class:REDUCED_REDUNDANCY\n"
            "\n"
            "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  EXPECT_EQ(result.signature, "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
  EXPECT_EQ(header(result, "x-amz-content-sha256"),
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
}

TEST(SigV4, AwsExampleGetBucketLifecycle) {
  const SigV4Result result =
      sign_v4(example_get({{"lifecycle", ""}}), "us-east-1", "s3", kExampleCredentials, example_time());
  EXPECT_EQ(result.canonical_request,
            "GET\n"
            "/\n"
            "lifecycle=\n"
            "host:examplebucket.s3.amazonaws.com\n"
            "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
            "x-amz-date:20130524T000000Z\n"
            "\n"
            "host;x-amz-content-sha256;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(result.signature, "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

TEST(SigV4, AwsExampleListObjects) {
  // Given out of order on purpose: the signer sorts.
  const SigV4Result result = sign_v4(example_get({{"prefix", "J"}, {"max-keys", "2"}}), "us-east-1", "s3",
                                     kExampleCredentials, example_time());
  EXPECT_NE(result.canonical_request.find("\n/\nmax-keys=2&prefix=J\n"), std::string::npos);
  EXPECT_EQ(result.signature, "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(SigV4, SessionTokenIsSentAndSigned) {
  AwsCredentials credentials = kExampleCredentials;
  credentials.session_token = "token/with+chars=";
  const SigV4Result result = sign_v4(example_get({}), "us-east-1", "s3", credentials, example_time());
  EXPECT_EQ(header(result, "x-amz-security-token"), "token/with+chars=");
  EXPECT_NE(result.canonical_request.find("x-amz-security-token:token/with+chars=\n"), std::string::npos);
  EXPECT_NE(header(result, "Authorization")
                .find("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,"),
            std::string::npos);
  // A different token gives a different signature.
  const SigV4Result without =
      sign_v4(example_get({}), "us-east-1", "s3", kExampleCredentials, example_time());
  EXPECT_NE(result.signature, without.signature);
}

TEST(SigV4, AccessKeyWithColonIsKeptWhole) {
  const AwsCredentials swift{"test:tester", "testing", ""};
  const SigV4Result result = sign_v4(example_get({}), "us-east-1", "s3", swift, example_time());
  EXPECT_EQ(header(result, "Authorization")
                .rfind("AWS4-HMAC-SHA256 Credential=test:tester/20130524/us-east-1/s3/aws4_request, ", 0),
            0u);
}

TEST(SigV4, SignerOwnsItsHeadersAndCanonicalizesValues) {
  SigV4Request request = example_get({});
  request.headers.emplace_back("X-Amz-Date", "19990101T000000Z");  // ignored
  request.headers.emplace_back("X-Amz-Meta-Note", "  two   spaces\tand tab  ");
  const SigV4Result result = sign_v4(request, "us-east-1", "s3", kExampleCredentials, example_time());
  EXPECT_EQ(result.canonical_request.find("19990101"), std::string::npos);
  EXPECT_NE(result.canonical_request.find("x-amz-meta-note:two spaces and tab\n"), std::string::npos);
}

TEST(SigV4, HostIsRequired) {
  SigV4Request request = example_get({});
  request.headers.clear();
  EXPECT_THROW(sign_v4(request, "us-east-1", "s3", kExampleCredentials, example_time()),
               std::invalid_argument);
}

TEST(UriEncode, Table) {
  struct Case {
    std::string input;
    bool encode_slash;
    std::string expected;
  };
  const Case cases[] = {
      {"a b", false, "a%20b"},
      {"dir/file.jpg", false, "dir/file.jpg"},
      {"dir/file.jpg", true, "dir%2Ffile.jpg"},
      {"A-Z_a.z~0-9", true, "A-Z_a.z~0-9"},
      {"caf\xC3\xA9", false, "caf%C3%A9"},  // 'é' in UTF-8, each byte on its own
      {"test$file.text", false, "test%24file.text"},
      {"a+b=c&d?e#f%g", true, "a%2Bb%3Dc%26d%3Fe%23f%25g"},
      {"*'()!:@,;", false, "%2A%27%28%29%21%3A%40%2C%3B"},
      {std::string("\x00\x7F\xFF", 3), false, "%00%7F%FF"},
      {"", true, ""},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(uri_encode(c.input, c.encode_slash), c.expected) << "input: " << c.input;
  }
}

TEST(UriEncode, CanonicalQueryEncodesAndSorts) {
  EXPECT_EQ(canonical_query_string({}), "");
  EXPECT_EQ(canonical_query_string({{"prefix", "a b/c"}, {"delimiter", "/"}, {"acl", ""}}),
            "acl=&delimiter=%2F&prefix=a%20b%2Fc");
  // Same name twice: sorted by value.
  EXPECT_EQ(canonical_query_string({{"k", "b"}, {"k", "a"}}), "k=a&k=b");
}

TEST(HttpDate, ParsesRfc1123) {
  EXPECT_EQ(parse_http_date("Fri, 24 May 2013 00:00:00 GMT"), 1369353600);
  EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
  EXPECT_EQ(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
  EXPECT_EQ(parse_http_date("Wed, 31 Dec 2036 23:59:59 GMT"), 2114380799);
  EXPECT_EQ(parse_http_date("  Tue, 29 Feb 2028 12:00:00 GMT\r\n"), 1835438400);
}

TEST(HttpDate, RejectsOtherForms) {
  EXPECT_EQ(parse_http_date(""), std::nullopt);
  EXPECT_EQ(parse_http_date("2013-05-24T00:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_http_date("Friday, 24-May-13 00:00:00 GMT"), std::nullopt);  // RFC 850
  EXPECT_EQ(parse_http_date("Fri May 24 00:00:00 2013"), std::nullopt);        // asctime
  EXPECT_EQ(parse_http_date("Fri, 24 Foo 2013 00:00:00 GMT"), std::nullopt);
  EXPECT_EQ(parse_http_date("Fri, 24 May 2013 25:00:00 GMT"), std::nullopt);
  EXPECT_EQ(parse_http_date("Fri, 24 May 2013 00:00:00 CET"), std::nullopt);
  EXPECT_EQ(parse_http_date("Fri, 24 May 2013 00:00:00 GMT junk"), std::nullopt);
}

// Clears every variable s3_config_from_environment reads, and puts them back after.
class S3ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : kVariables) {
      const char* value = std::getenv(name);
      saved_.emplace_back(name, value ? std::optional<std::string>(value) : std::nullopt);
      unsetenv(name);
    }
    // No real ~/.aws/credentials may leak into a test.
    setenv("HOME", "/nonexistent-imageflex-test-home", 1);
  }

  void TearDown() override {
    for (const auto& [name, value] : saved_) {
      if (value) {
        setenv(name, value->c_str(), 1);
      } else {
        unsetenv(name);
      }
    }
    for (const std::string& path : temp_files_) std::remove(path.c_str());
  }

  std::string write_temp_file(const std::string& contents) {
    std::string path = ::testing::TempDir() + "/imageflex_credentials_XXXXXX";
    const int fd = mkstemp(path.data());
    EXPECT_GE(fd, 0);
    close(fd);
    std::ofstream(path) << contents;
    temp_files_.push_back(path);
    return path;
  }

  static void set_keys() {
    setenv("AWS_ACCESS_KEY_ID", "test:tester", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "testing", 1);
  }

  // The message of the std::invalid_argument `make` throws, or "" if it does not.
  template <typename F>
  static std::string error_of(F make) {
    try {
      make();
    } catch (const std::invalid_argument& error) {
      return error.what();
    }
    return "";
  }

 private:
  static constexpr const char* kVariables[] = {"IF_S3_ENDPOINT",
                                               "AWS_REGION",
                                               "AWS_DEFAULT_REGION",
                                               "IF_S3_ADDRESSING",
                                               "AWS_ACCESS_KEY_ID",
                                               "AWS_SECRET_ACCESS_KEY",
                                               "AWS_SESSION_TOKEN",
                                               "AWS_PROFILE",
                                               "AWS_SHARED_CREDENTIALS_FILE",
                                               "HOME"};
  std::vector<std::pair<const char*, std::optional<std::string>>> saved_;
  std::vector<std::string> temp_files_;
};

TEST_F(S3ConfigTest, BucketAndPrefix) {
  set_keys();
  S3Config config = s3_config_from_environment("s3://images");
  EXPECT_EQ(config.bucket, "images");
  EXPECT_EQ(config.prefix, "");

  config = s3_config_from_environment("s3://images/originals/2024/");
  EXPECT_EQ(config.bucket, "images");
  EXPECT_EQ(config.prefix, "originals/2024");
  EXPECT_EQ(config.access_key, "test:tester");
  EXPECT_EQ(config.secret_key, "testing");
  EXPECT_EQ(config.session_token, "");
}

TEST_F(S3ConfigTest, MissingOrBadBucket) {
  set_keys();
  EXPECT_NE(error_of([] { s3_config_from_environment("s3://"); }).find("no bucket"), std::string::npos);
  EXPECT_NE(error_of([] { s3_config_from_environment("s3:///prefix"); }).find("no bucket"),
            std::string::npos);
  EXPECT_NE(error_of([] { s3_config_from_environment("file:/srv"); }).find("s3://"), std::string::npos);
  EXPECT_NE(error_of([] { s3_config_from_environment("s3://bad bucket"); }), "");
}

TEST_F(S3ConfigTest, DefaultsForAws) {
  set_keys();
  const S3Config config = s3_config_from_environment("s3://images");
  EXPECT_EQ(config.endpoint, "");
  EXPECT_EQ(config.region, "us-east-1");
  EXPECT_FALSE(config.path_style);
  // A dotted bucket name does not match the *.s3 certificate: path style.
  EXPECT_TRUE(s3_config_from_environment("s3://my.images").path_style);
}

TEST_F(S3ConfigTest, EndpointRegionAndAddressing) {
  set_keys();
  setenv("IF_S3_ENDPOINT", "http://127.0.0.1:8080", 1);
  setenv("AWS_DEFAULT_REGION", "eu-west-1", 1);
  S3Config config = s3_config_from_environment("s3://images");
  EXPECT_EQ(config.endpoint, "http://127.0.0.1:8080");
  EXPECT_EQ(config.region, "eu-west-1");
  EXPECT_TRUE(config.path_style);

  setenv("AWS_REGION", "eu-central-1", 1);  // wins over AWS_DEFAULT_REGION
  setenv("IF_S3_ADDRESSING", "virtual", 1);
  config = s3_config_from_environment("s3://images");
  EXPECT_EQ(config.region, "eu-central-1");
  EXPECT_FALSE(config.path_style);

  setenv("IF_S3_ADDRESSING", "sideways", 1);
  EXPECT_NE(error_of([] { s3_config_from_environment("s3://images"); }).find("IF_S3_ADDRESSING"),
            std::string::npos);
}

TEST_F(S3ConfigTest, BadEndpointNamesTheSetting) {
  set_keys();
  for (const char* endpoint : {"127.0.0.1:8080", "ftp://host", "http://", "http://host:99999",
                               "http://host/path", "http://user@host"}) {
    setenv("IF_S3_ENDPOINT", endpoint, 1);
    EXPECT_NE(error_of([] { s3_config_from_environment("s3://images"); }).find("IF_S3_ENDPOINT"),
              std::string::npos)
        << endpoint;
  }
  for (const char* endpoint :
       {"https://s3.eu-west-1.amazonaws.com", "http://[::1]:9000/", "http://localhost"}) {
    setenv("IF_S3_ENDPOINT", endpoint, 1);
    EXPECT_EQ(error_of([] { s3_config_from_environment("s3://images"); }), "") << endpoint;
  }
}

TEST_F(S3ConfigTest, KeysFromEnvironment) {
  set_keys();
  setenv("AWS_SESSION_TOKEN", "session", 1);
  EXPECT_EQ(s3_config_from_environment("s3://images").session_token, "session");

  unsetenv("AWS_SECRET_ACCESS_KEY");
  EXPECT_NE(error_of([] { s3_config_from_environment("s3://images"); }).find("AWS_SECRET_ACCESS_KEY"),
            std::string::npos);
}

TEST_F(S3ConfigTest, NoCredentialsAnywhere) {
  const std::string message = error_of([] { s3_config_from_environment("s3://images"); });
  EXPECT_NE(message.find("AWS_ACCESS_KEY_ID"), std::string::npos) << message;
}

TEST_F(S3ConfigTest, CredentialsFileWithProfile) {
  const std::string path = write_temp_file(
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
  setenv("AWS_SHARED_CREDENTIALS_FILE", path.c_str(), 1);

  S3Config config = s3_config_from_environment("s3://images");
  EXPECT_EQ(config.access_key, "DEFAULTKEY");
  EXPECT_EQ(config.secret_key, "defaultsecret");
  EXPECT_EQ(config.session_token, "");

  setenv("AWS_PROFILE", "staging", 1);
  config = s3_config_from_environment("s3://images");
  EXPECT_EQ(config.access_key, "STAGINGKEY");
  EXPECT_EQ(config.secret_key, "staging/secret+x");
  EXPECT_EQ(config.session_token, "stagingtoken");

  setenv("AWS_PROFILE", "empty", 1);
  EXPECT_NE(error_of([] { s3_config_from_environment("s3://images"); }).find("[empty]"), std::string::npos);

  // Keys in the environment win over the file.
  set_keys();
  EXPECT_EQ(s3_config_from_environment("s3://images").access_key, "test:tester");
}

TEST_F(S3ConfigTest, CredentialsFileUnderHome) {
  const std::string dir = ::testing::TempDir() + "/imageflex_home_test";
  std::remove((dir + "/.aws/credentials").c_str());
  ASSERT_EQ(std::system(("mkdir -p '" + dir + "/.aws'").c_str()), 0);
  std::ofstream(dir + "/.aws/credentials") << "[default]\naws_access_key_id=K\n"
                                              "aws_secret_access_key=S\n";
  setenv("HOME", dir.c_str(), 1);
  const S3Config config = s3_config_from_environment("s3://images");
  EXPECT_EQ(config.access_key, "K");
  EXPECT_EQ(config.secret_key, "S");
  std::remove((dir + "/.aws/credentials").c_str());
}

TEST_F(S3ConfigTest, UnreadableCredentialsFileNamesTheSetting) {
  setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials", 1);
  EXPECT_NE(error_of([] { s3_config_from_environment("s3://images"); }).find("AWS_SHARED_CREDENTIALS_FILE"),
            std::string::npos);
}

S3Config local_config(int port) {
  S3Config config;
  config.bucket = "images";
  config.prefix = "/originals/";
  config.endpoint = "http://127.0.0.1:" + std::to_string(port);
  config.access_key = "test:tester";
  config.secret_key = "testing";
  return config;
}

TEST(S3Storage, DescribeAndValidation) {
  EXPECT_EQ(S3Storage(local_config(9)).describe(), "s3://images/originals");

  S3Config config = local_config(9);
  config.bucket.clear();
  EXPECT_THROW(S3Storage{config}, std::invalid_argument);
  config = local_config(9);
  config.secret_key.clear();
  EXPECT_THROW(S3Storage{config}, std::invalid_argument);
  config = local_config(9);
  config.endpoint = "127.0.0.1:9000";
  EXPECT_THROW(S3Storage{config}, std::invalid_argument);
}

// A loopback port with nothing listening: bind one, then close it.
int closed_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  socklen_t length = sizeof address;
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  close(fd);
  return ntohs(address.sin_port);
}

TEST(S3Storage, UnreachableStoreIsUnavailableAfterRetries) {
  S3Storage storage(local_config(closed_port()));
  const auto start = std::chrono::steady_clock::now();
  try {
    storage.stat("a.jpg");
    FAIL() << "stat on a closed port returned";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kStoreUnavailable);
    const std::string reason = error.what();
    EXPECT_EQ(reason.rfind("storage unavailable: ", 0), 0u) << reason;
    EXPECT_NE(reason.find("after 4 attempts"), std::string::npos) << reason;
    EXPECT_EQ(reason.find("127.0.0.1"), std::string::npos) << reason;
    EXPECT_EQ(reason.find("tester"), std::string::npos) << reason;
  }
  // Three backoffs of at most 50, 100 and 200 ms.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

}  // namespace
}  // namespace imageflex
