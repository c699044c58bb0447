// The S3 client's failure handling (which answers are retried and how often, the
// deadline), how S3Storage maps the statuses, and what goes on the wire, checked
// against a scripted HTTP responder on 127.0.0.1 (tests/support/scripted_server.h).
// Behaviour a real server does show is tested against Swift in tests/integration.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>

#include "common/error.h"
#include "common/hash.h"
#include "scripted_server.h"
#include "storage/s3_storage.h"

namespace imageflex {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;
using test::drop;
using test::hang;
using test::ok;
using test::s3_error;
using test::ScriptedServer;
using test::SeenRequest;

constexpr const char* kAccessKey = "AKIDSCRIPTEDTEST";
constexpr const char* kSecretKey = "scripted-secret-do-not-leak";

// ---- helpers ------------------------------------------------------------------------

std::shared_ptr<AwsCredentialsProvider> credentials() {
  return static_credentials({kAccessKey, kSecretKey, ""});
}

S3Config config_for(const ScriptedServer& server) {
  S3Config config;
  config.bucket = "photos";
  config.prefix = "originals";
  config.endpoint = server.endpoint();
  config.connect_timeout_ms = 1000;
  config.total_timeout_ms = 5000;
  config.max_retries = 3;
  return config;
}

// The Error that `call` throws, or nullopt if it returns. Anything else it throws
// propagates and fails the test.
template <typename Call>
std::optional<Error> error_from(Call&& call) {
  try {
    call();
  } catch (const Error& error) {
    return error;
  }
  return std::nullopt;
}

// What a GET meeting this one S3 error throws. Such errors are never retried,
// so the store must have been asked exactly once.
std::optional<Error> get_error_asked_once(int status, const std::string& code) {
  ScriptedServer server({s3_error(status, code)});
  S3Storage storage(config_for(server), credentials());
  auto error = error_from([&] { storage.get("cat.jpg", {}); });
  EXPECT_EQ(server.requests().size(), 1u) << code << " must not be retried";
  return error;
}

// ---- retries ------------------------------------------------------------------------

TEST(S3RetryTest, SlowDownIsRetriedUntilTheObjectArrives) {
  ScriptedServer server({s3_error(503, "SlowDown"), s3_error(503, "SlowDown"),
                         ok("picture bytes", {{"ETag", "\"abc123\""}, {"Content-Type", "image/jpeg"}})});
  S3Storage storage(config_for(server), credentials());

  const GetResult result = storage.get("cat.jpg", {});

  EXPECT_EQ(result.status, GetStatus::kOk);
  EXPECT_EQ(result.object.bytes, "picture bytes");
  EXPECT_EQ(result.object.info.etag, "abc123");
  EXPECT_EQ(result.object.info.content_type, "image/jpeg");
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  for (const SeenRequest& request : requests) {
    EXPECT_EQ(request.method, "GET");
    EXPECT_EQ(request.target, "/photos/originals/cat.jpg");
  }
}

TEST(S3RetryTest, TooManyRequestsIsRetriedLikeSlowDown) {
  ScriptedServer server({s3_error(429, "TooManyRequests"), ok("picture bytes")});
  S3Storage storage(config_for(server), credentials());
  EXPECT_EQ(storage.get("cat.jpg", {}).status, GetStatus::kOk);
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST(S3RetryTest, ARetriedPutResendsTheWholeBody) {
  ScriptedServer server({s3_error(503, "SlowDown"), ok("")});
  S3Storage storage(config_for(server), credentials());
  const std::string bytes(100000, 'p');  // several TCP segments

  storage.put("big.png", bytes, {});

  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  for (const SeenRequest& request : requests) {
    EXPECT_EQ(request.method, "PUT");
    EXPECT_EQ(request.body, bytes);
  }
}

TEST(S3RetryTest, PersistentServerErrorIsUnavailableAfterMaxRetries) {
  ScriptedServer server({}, s3_error(500, "InternalError"));
  S3Config config = config_for(server);
  config.max_retries = 2;
  S3Storage storage(config, credentials());
  const auto start = steady_clock::now();

  const auto error = error_from([&] { storage.get("cat.jpg", {}); });

  ASSERT_TRUE(error.has_value()) << "get returned despite a 500 on every attempt";
  EXPECT_EQ(error->kind(), ErrorKind::kStoreUnavailable);
  EXPECT_EQ(server.requests().size(), 3u) << "the first attempt and max_retries = 2 more";
  // The reason reaches logs and (through kStoreUnavailable) clients: no secrets, no
  // internal addresses.
  const std::string reason = error->what();
  EXPECT_NE(reason.find("after 3 attempts"), std::string::npos) << reason;
  EXPECT_EQ(reason.find(kAccessKey), std::string::npos) << reason;
  EXPECT_EQ(reason.find(kSecretKey), std::string::npos) << reason;
  EXPECT_EQ(reason.find("127.0.0.1"), std::string::npos) << reason;
  EXPECT_EQ(reason.find(std::to_string(server.port())), std::string::npos) << reason;
  // Two backoffs of at most 50 and 100 ms.
  EXPECT_LT(steady_clock::now() - start, milliseconds(1000));
}

TEST(S3RetryTest, ConnectionClosedWithoutAnAnswerIsRetried) {
  ScriptedServer server({drop(), ok("after the drop")});
  S3Storage storage(config_for(server), credentials());

  const GetResult result = storage.get("cat.jpg", {});

  EXPECT_EQ(result.status, GetStatus::kOk);
  EXPECT_EQ(result.object.bytes, "after the drop");
  EXPECT_EQ(server.requests().size(), 2u);
  EXPECT_EQ(server.connections(), 2) << "the dropped connection cannot be reused";
}

// ---- no retry on 4xx ------------------------------------------------------------------

TEST(S3RetryTest, NoSuchKeyIsNotFoundWithoutRetry) {
  ScriptedServer server({s3_error(404, "NoSuchKey")});
  S3Storage storage(config_for(server), credentials());

  EXPECT_EQ(storage.get("missing.jpg", {}).status, GetStatus::kNotFound);
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(S3RetryTest, NoSuchBucketIsAConfigurationFaultNotAMissingKey) {
  const auto error = get_error_asked_once(404, "NoSuchBucket");

  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->kind(), ErrorKind::kStoreUnavailable);
}

TEST(S3RetryTest, BadRequestIsUnavailableWithoutRetry) {
  const auto error = get_error_asked_once(400, "InvalidRequest");

  ASSERT_TRUE(error.has_value()) << "an unexpected 400 must not read as an object or as missing";
  EXPECT_EQ(error->kind(), ErrorKind::kStoreUnavailable);
  EXPECT_NE(std::string(error->what()).find("400"), std::string::npos) << error->what();
}

// ---- 403 ------------------------------------------------------------------------------

TEST(S3RetryTest, AccessDeniedOnGetIsNotFound) {
  // S3 hides a missing key from a reader without s3:ListBucket behind 403 AccessDenied.
  ScriptedServer server({s3_error(403, "AccessDenied")});
  S3Storage storage(config_for(server), credentials());

  EXPECT_EQ(storage.get("missing.jpg", {}).status, GetStatus::kNotFound);
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(S3RetryTest, SignatureMismatchOnGetIsUnavailable) {
  const auto error = get_error_asked_once(403, "SignatureDoesNotMatch");

  ASSERT_TRUE(error.has_value()) << "a bad signature must not pass for a missing key";
  EXPECT_EQ(error->kind(), ErrorKind::kStoreUnavailable);
}

TEST(S3RetryTest, ForbiddenPutThrows) {
  ScriptedServer server({s3_error(403, "AccessDenied")});
  S3Storage storage(config_for(server), credentials());

  const auto error = error_from([&] { storage.put("cat.jpg", "bytes", {}); });

  ASSERT_TRUE(error.has_value()) << "a refused write must not look like a success";
  EXPECT_EQ(error->kind(), ErrorKind::kStoreUnavailable);
  EXPECT_EQ(server.requests().size(), 1u);
}

// ---- deadline -------------------------------------------------------------------------

TEST(S3RetryTest, AHangingStoreIsUnavailableAtTheDeadline) {
  ScriptedServer server({}, hang(milliseconds(5000)));
  S3Config config = config_for(server);
  config.total_timeout_ms = 300;
  S3Storage storage(config, credentials());
  const auto start = steady_clock::now();

  const auto error = error_from([&] { storage.get("cat.jpg", {}); });

  const auto elapsed = steady_clock::now() - start;
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->kind(), ErrorKind::kStoreUnavailable);
  EXPECT_GE(server.requests().size(), 1u);
  EXPECT_GE(elapsed, milliseconds(250)) << "gave up before the deadline";
  EXPECT_LT(elapsed, milliseconds(1500)) << "the deadline covers retries and backoff too";
}

// ---- what goes on the wire --------------------------------------------------------------

TEST(S3RetryTest, RequestsAreSignedAndPutCarriesItsPayloadHashAndMetadata) {
  ScriptedServer server({ok("stored"), ok("")});
  S3Storage storage(config_for(server), credentials());
  const std::string bytes = "\x89PNG\r\n\x1a\n not really a picture";
  PutOptions options;
  options.content_type = "image/png";
  options.metadata = {{"source-etag", "abc123"}, {"width", "640"}};

  ASSERT_EQ(storage.get("cat.jpg", {}).status, GetStatus::kOk);
  storage.put("variants/cat.png", bytes, options);

  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  for (const SeenRequest& request : requests) {
    EXPECT_EQ(request.header("authorization").rfind("AWS4-HMAC-SHA256 Credential=", 0), 0u)
        << request.header("authorization");
    EXPECT_NE(request.header("x-amz-date"), "<absent>");
  }
  EXPECT_EQ(requests[0].header("x-amz-content-sha256"), sha256_hex(""));

  const SeenRequest& put = requests[1];
  EXPECT_EQ(put.method, "PUT");
  EXPECT_EQ(put.target, "/photos/originals/variants/cat.png");
  EXPECT_EQ(put.body, bytes);
  EXPECT_EQ(put.header("x-amz-content-sha256"), sha256_hex(bytes));
  EXPECT_EQ(put.header("content-type"), "image/png");
  EXPECT_EQ(put.header("x-amz-meta-source-etag"), "abc123");
  EXPECT_EQ(put.header("x-amz-meta-width"), "640");
  EXPECT_EQ(put.header("expect"), "<absent>") << "no 100-continue round trip";
}

TEST(S3RetryTest, SequentialRequestsReuseOneConnection) {
  ScriptedServer server({ok("one"), ok(""), ok("three", {{"ETag", "\"e3\""}})});
  S3Storage storage(config_for(server), credentials());

  EXPECT_EQ(storage.get("a.jpg", {}).object.bytes, "one");
  storage.put("b.jpg", "bytes", {});
  const auto info = storage.stat("c.jpg");

  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->etag, "e3");
  EXPECT_EQ(server.requests().size(), 3u);
  EXPECT_EQ(server.connections(), 1) << "curl handles are pooled, so their connections are kept";
}

}  // namespace
}  // namespace imageflex
