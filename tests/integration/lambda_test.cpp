// `imageflex lambda`, the real process, against the Runtime API emulator and a bucket on the
// real Swift S3 server: function URL events in, both invoke modes out, every failure path.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "fixtures.h"
#include "image_check.h"
#include "integration.h"
#include "lambda_emulator.h"
#include "server_process.h"
#include "service.h"

namespace imageflex::test {
namespace {

using Kind = LambdaOutcome::Kind;
constexpr std::size_t kSixMegabytes = std::size_t{6} << 20;

// A bucket with the fixtures, and the environment `imageflex lambda` gets in AWS:
// settings as IF_* variables, credentials as AWS_* ones, the Runtime API's address.
class LambdaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto& swift = SwiftServer::shared();
    bucket_ = swift.new_bucket();
    store_ = swift.storage(bucket_);
    for (const auto& entry : std::filesystem::directory_iterator(fixture_dir())) {
      store_->put(entry.path().filename().string(), read_file(entry.path().string()), {});
    }
    env_ = swift.env();
    env_["AWS_LAMBDA_RUNTIME_API"] = emulator_.address();
    env_["IF_STORAGE"] = "s3://" + bucket_;
    env_["IF_ACCESS_LOG"] = "true";
  }

  void start(const std::map<std::string, std::string>& settings = {}) {
    for (const auto& [name, value] : settings) env_[name] = value;
    lambda_ = std::make_unique<ServerProcess>(std::vector<std::string>{imageflex_binary(), "lambda"}, env_,
                                              "lambda runtime ready");
  }

  UrlResponse get(const std::string& path, const std::string& query = "",
                  const std::map<std::string, std::string>& headers = {}) {
    return emulator_.call(url_event("GET", path, query, headers));
  }

  LambdaEmulator emulator_;  // outlives the process
  std::string bucket_;
  std::unique_ptr<Storage> store_;
  std::map<std::string, std::string> env_;
  std::unique_ptr<ServerProcess> lambda_;
};

void expect_reason(const UrlResponse& response, long status, const std::string& words) {
  EXPECT_EQ(response.status, status) << response.body;
  EXPECT_EQ(response.header("content-type"), "text/plain; charset=utf-8");
  EXPECT_EQ(response.header("cache-control"), "no-store");
  EXPECT_NE(response.body.find(words), std::string::npos) << response.body;
  EXPECT_LT(response.body.size(), 200u);
}

TEST_F(LambdaTest, StreamsVariantsInEveryFormat) {
  start();
  const std::string id = emulator_.invoke(url_event("GET", "/landscape.jpg", "w=200&f=webp"));
  const LambdaOutcome outcome = emulator_.wait(id);
  ASSERT_EQ(outcome.kind, Kind::kResponse) << outcome.payload.substr(0, 200);
  EXPECT_TRUE(outcome.chunked);
  EXPECT_EQ(outcome.header("lambda-runtime-function-response-mode"), "streaming");
  const UrlResponse webp = url_response(outcome);
  EXPECT_EQ(webp.status, 200);
  EXPECT_EQ(webp.header("content-type"), "image/webp");
  EXPECT_EQ(webp.header("x-cache"), "miss");
  EXPECT_FALSE(webp.header("etag").empty());
  EXPECT_FALSE(webp.headers.count("content-length")) << "framing is the function URL's";
  Decoded d = decode(webp.body);
  EXPECT_EQ(d.loader, "webpload");
  EXPECT_EQ(d.width, 200);
  EXPECT_EQ(d.height, 150);
  EXPECT_LT(colour_distance(rgb_of(mean_colour(webp.body, 10, 10, 60, 40)), {kRed[0], kRed[1], kRed[2]}), 20);

  // Negotiated from Accept, as behind CloudFront.
  const UrlResponse avif = get("/landscape.jpg", "w=120", {{"Accept", "image/avif,image/webp,*/*"}});
  EXPECT_EQ(avif.status, 200);
  EXPECT_EQ(avif.header("vary"), "Accept");
  EXPECT_EQ(decode(avif.body).loader, "heifload");
  EXPECT_EQ(decode(avif.body).width, 120);

  // The original, byte for byte.
  const UrlResponse original = get("/landscape.jpg");
  EXPECT_EQ(original.status, 200);
  EXPECT_EQ(original.header("x-cache"), "original");
  EXPECT_EQ(original.body, fixture("landscape.jpg"));
  EXPECT_TRUE(lambda_->wait_for_output(R"("path":"/landscape.jpg\?w=200&f=webp","status":200)"))
      << "one access-log line per invocation";
}

TEST_F(LambdaTest, BufferedModeSendsBase64Json) {
  start({{"IF_LAMBDA_RESPONSE_MODE", "buffered"}});
  const std::string id = emulator_.invoke(url_event("GET", "/landscape.jpg", "w=100&h=100&f=jpeg"));
  const LambdaOutcome outcome = emulator_.wait(id);
  ASSERT_EQ(outcome.kind, Kind::kResponse) << outcome.payload.substr(0, 200);
  EXPECT_FALSE(outcome.chunked);
  EXPECT_EQ(outcome.header("lambda-runtime-function-response-mode"), "");
  const auto json = nlohmann::json::parse(outcome.payload);
  EXPECT_EQ(json.at("isBase64Encoded"), true);
  EXPECT_EQ(json.at("statusCode"), 200);
  const UrlResponse jpeg = url_response(outcome);
  EXPECT_EQ(jpeg.header("content-type"), "image/jpeg");
  Decoded d = decode(jpeg.body);
  EXPECT_EQ(d.loader, "jpegload");
  EXPECT_EQ(d.width, 100);
  EXPECT_EQ(d.height, 100);

  const UrlResponse head = emulator_.call(url_event("HEAD", "/landscape.jpg", "w=100&h=100&f=jpeg"));
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("content-type"), "image/jpeg");
  EXPECT_TRUE(head.body.empty());
}

TEST_F(LambdaTest, RevalidationIs304AndAMissingImage404) {
  start();
  const UrlResponse first = get("/landscape.jpg", "w=64&f=png");
  ASSERT_EQ(first.status, 200);
  const std::string etag = first.header("etag");
  ASSERT_FALSE(etag.empty());
  const UrlResponse again = get("/landscape.jpg", "w=64&f=png", {{"If-None-Match", etag}});
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  EXPECT_EQ(again.header("etag"), etag);
  EXPECT_EQ(again.header("x-cache"), "hit-revalidated");

  const UrlResponse original = get("/landscape.jpg");
  const UrlResponse held = get("/landscape.jpg", "", {{"If-None-Match", original.header("etag")}});
  EXPECT_EQ(held.status, 304);
  EXPECT_TRUE(held.body.empty());

  const UrlResponse missing = get("/no-such.jpg", "w=10");
  expect_reason(missing, 404, "no such image");
  expect_reason(get("/no-such.jpg"), 404, "no such image");
}

TEST_F(LambdaTest, AnOriginalOverTheByteLimitIs413) {
  start({{"IF_MAX_SOURCE_MB", "1"}});
  store_->put("big.jpg", make_heavy_jpeg(1600), {});  // about 1.4 MB
  expect_reason(get("/big.jpg"), 413, "larger than the source limit");
  expect_reason(get("/big.jpg", "w=100"), 413, "larger than the source limit");
  EXPECT_EQ(get("/landscape.jpg", "w=10").status, 200);
}

// The same bad requests the HTTP server refuses, refused the same way; and a URL event
// with a body or a broken part is a 400, not a crash or an invocation error.
TEST_F(LambdaTest, BadRequestsGetTheServersStatuses) {
  start();
  const UrlResponse post = emulator_.call(url_event("POST", "/landscape.jpg", "", {}, "payload"));
  expect_reason(post, 405, "only GET and HEAD");
  EXPECT_EQ(post.header("allow"), "GET, HEAD");
  expect_reason(emulator_.call(url_event("DELETE", "/landscape.jpg")), 405, "only GET and HEAD");
  expect_reason(emulator_.call(url_event("GET", "/landscape.jpg", "", {}, "a body")), 400, "no body");
  expect_reason(get("/landscape.jpg", "w=abc"), 400, "w must be");
  expect_reason(get("/../etc/passwd"), 400, "");
  expect_reason(get("/_imageflex/anything"), 404, "");

  auto broken = nlohmann::json::parse(url_event("GET", "/landscape.jpg"));
  broken["headers"] = "accept: everything";
  expect_reason(emulator_.call(broken.dump()), 400, "malformed request: headers");
  broken = nlohmann::json::parse(url_event("GET", "/landscape.jpg"));
  broken["body"] = "not base64!";
  broken["isBase64Encoded"] = true;
  expect_reason(emulator_.call(broken.dump()), 400, "malformed request");
  broken = nlohmann::json::parse(url_event("GET", "/landscape.jpg"));
  broken["headers"]["bad\nname"] = "x";
  expect_reason(emulator_.call(broken.dump()), 400, "malformed request: headers");
  EXPECT_EQ(get("/landscape.jpg", "w=10").status, 200) << "and it carries on";
}

// A payload that is no function URL event has no HTTP client to answer: it is reported
// as a failed invocation (what a direct `aws lambda invoke` caller sees), and the runtime
// carries on with the next one.
TEST_F(LambdaTest, AnEventItCannotHandleIsAnInvocationError) {
  start();
  for (const std::string& event : {std::string(R"({"hello":"world"})"), std::string("not json"),
                                   std::string(R"({"rawPath":"/a.jpg","requestContext":{}})")}) {
    const LambdaOutcome outcome = emulator_.wait(emulator_.invoke(event));
    ASSERT_EQ(outcome.kind, Kind::kError) << event;
    EXPECT_EQ(outcome.header("lambda-runtime-function-error-type"), "InvalidEvent");
    const auto body = nlohmann::json::parse(outcome.payload);
    EXPECT_EQ(body.at("errorType"), "InvalidEvent");
    EXPECT_NE(body.at("errorMessage").get<std::string>().find("not a function URL event"), std::string::npos);
  }
  EXPECT_EQ(get("/landscape.jpg", "w=10").status, 200);
}

TEST_F(LambdaTest, BadSettingsAndAnUnusableStoreAreInitErrors) {
  struct Case {
    std::map<std::string, std::string> settings;
    std::string type;
    std::string named;
  };
  const Case cases[] = {
      {{{"IF_DEADLINE_MS", "soon"}}, "Runtime.InvalidSetting", "deadline-ms"},
      {{{"IF_LAMBDA_RESPONSE_MODE", "both"}}, "Runtime.InvalidSetting", "lambda-response-mode"},
      {{{"IF_S3_ENDPOINT", "ftp://nowhere"}}, "Runtime.StorageError", "IF_S3_ENDPOINT"},
  };
  for (const auto& c : cases) {
    LambdaEmulator emulator;
    auto env = env_;
    env["AWS_LAMBDA_RUNTIME_API"] = emulator.address();
    for (const auto& [name, value] : c.settings) env[name] = value;
    const CommandResult result = run_command({imageflex_binary(), "lambda"}, env);
    EXPECT_EQ(result.status, 1) << c.named << ": " << result.output;
    auto init_error = emulator.wait_init_error(1);
    ASSERT_TRUE(init_error) << c.named;
    EXPECT_EQ(init_error->header("lambda-runtime-function-error-type"), c.type);
    const auto body = nlohmann::json::parse(init_error->payload);
    EXPECT_EQ(body.at("errorType"), c.type);
    EXPECT_NE(body.at("errorMessage").get<std::string>().find(c.named), std::string::npos)
        << init_error->payload;
  }
}

// Streaming serves what a buffered response cannot hold; buffered mode says so in a clean
// 502 rather than sending a payload Lambda would refuse. The limit is on the base64 JSON,
// so 4.5 to 6 MB of image is already too much.
TEST_F(LambdaTest, OverSixMegabytesStreamsAndBufferedRefusesCleanly) {
  const std::string huge = make_heavy_jpeg(3500);
  const std::string base64_too_big = make_heavy_jpeg(3000);
  ASSERT_GT(huge.size(), kSixMegabytes);
  ASSERT_LT(base64_too_big.size(), kSixMegabytes);
  ASSERT_GT(base64_too_big.size() * 4 / 3, kSixMegabytes);
  store_->put("huge.jpg", huge, {});
  store_->put("base64-too-big.jpg", base64_too_big, {});

  start();
  const UrlResponse streamed = get("/huge.jpg");
  EXPECT_EQ(streamed.status, 200);
  EXPECT_EQ(streamed.body.size(), huge.size());
  EXPECT_TRUE(streamed.body == huge) << "byte for byte";
  EXPECT_EQ(decode(streamed.body).width, 3500);
  lambda_.reset();

  start({{"IF_LAMBDA_RESPONSE_MODE", "buffered"}});
  for (const std::string path : {"/huge.jpg", "/base64-too-big.jpg"}) {
    const LambdaOutcome outcome = emulator_.wait(emulator_.invoke(url_event("GET", path)));
    ASSERT_EQ(outcome.kind, Kind::kResponse) << path << ": refused by the Runtime API, or no answer";
    EXPECT_LE(outcome.payload.size(), kSixMegabytes);
    expect_reason(url_response(outcome), 502, "too large for a buffered Lambda response");
  }
  const UrlResponse small = get("/landscape.jpg");
  EXPECT_EQ(small.status, 200);
  EXPECT_EQ(small.body, fixture("landscape.jpg"));
}

// The invocation's deadline bounds the request's: a variant that cannot be made in time is
// a 504 sent before Lambda's own deadline, never a cut-off body.
TEST_F(LambdaTest, TheInvocationDeadlineGives504InTime) {
  store_->put("heavy.jpg", make_heavy_jpeg(3000), {});
  // The service's own deadline stays at its default, 15 s; the effort makes the job outlast
  // the invocation's (at the default effort a faster machine made it in time: a 200).
  start({{"IF_AVIF_EFFORT", std::to_string(kHeavyAvifEffort)}});
  const auto timeout = std::chrono::milliseconds(1500);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::string id = emulator_.invoke(url_event("GET", "/heavy.jpg", "f=avif&q=61"), timeout);
  const LambdaOutcome outcome = emulator_.wait(id, 10);
  const auto answered = std::chrono::steady_clock::now();
  ASSERT_EQ(outcome.kind, Kind::kResponse);
  expect_reason(url_response(outcome), 504, "deadline");
  EXPECT_LT(answered, deadline) << "answered before Lambda's own deadline";
  EXPECT_EQ(get("/landscape.jpg", "w=10&f=png").status, 200) << "and it carries on";
}

}  // namespace
}  // namespace imageflex::test
