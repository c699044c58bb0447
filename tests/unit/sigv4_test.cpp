// The SigV4 signer against the worked examples in AWS's S3 documentation
// ("Signature Calculations for the Authorization Header: Transferring Payload in a
// Single Chunk"), and the URI encoding it relies on.
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

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

}  // namespace
}  // namespace imageflex
