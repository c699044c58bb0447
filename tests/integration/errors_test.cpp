// Bad input gets a clear 4xx with a short reason; overload and slowness get 503/504.
// Never a crash, a hang, an internal path, or a file left in the store.
#include <chrono>
#include <thread>

#include "integration.h"
#include "request/key.h"

namespace imageflex::test {
namespace {

class ErrorsTest : public ServiceTest {};
IMAGEFLEX_ON_EVERY_BACKEND(ErrorsTest);

// A short plain-text reason: one line, no stack trace, no internal path.
void expect_reason(const HttpResponse& response, long status, const std::string& context) {
  EXPECT_EQ(response.status, status) << context << ": " << response.body;
  EXPECT_EQ(response.header("content-type"), "text/plain; charset=utf-8") << context;
  EXPECT_EQ(response.header("cache-control"), "no-store") << context;
  EXPECT_FALSE(response.body.empty()) << context;
  EXPECT_EQ(response.body.find('\n'), response.body.size() - 1) << context << ": one line";
  EXPECT_LT(response.body.size(), 200u) << context;
  EXPECT_EQ(response.body.find("/tmp"), std::string::npos) << context;
  EXPECT_EQ(response.body.find("Vips"), std::string::npos) << context;
}

TEST_P(ErrorsTest, BadParametersAre400WithAReason) {
  const char* table[] = {
      "/landscape.jpg?w=abc", "/landscape.jpg?w=0",     "/landscape.jpg?w=-1",      "/landscape.jpg?w=100000",
      "/landscape.jpg?h=1e3", "/landscape.jpg?f=bmp",   "/landscape.jpg?fit=zoom",  "/landscape.jpg?q=0",
      "/landscape.jpg?q=101", "/landscape.jpg?w=1&w=2", "/landscape.jpg?enlarge=2", "/bad%zzescape.jpg",
  };
  for (const char* path : table) expect_reason(get(path), 400, path);
  EXPECT_EQ(get("/landscape.jpg?w=abc").body, "w must be a whole number of pixels from 1 to 8192\n");
  EXPECT_EQ(get("/landscape.jpg?f=bmp").body, "f must be avif, webp, jpeg, jpg, png, gif or json\n");
}

TEST_P(ErrorsTest, MissingImageIs404) {
  expect_reason(get("/no-such.jpg"), 404, "original");
  expect_reason(get("/no-such.jpg?w=10"), 404, "variant");
  expect_reason(get("/dir/no-such.jpg?w=10"), 404, "in a folder");
}

TEST_P(ErrorsTest, OtherMethodsAre405) {
  HttpClient client;
  for (const char* method : {"POST", "PUT", "DELETE", "PATCH", "OPTIONS"}) {
    auto response = client.request(method, service().server().url("/landscape.jpg"));
    expect_reason(response, 405, method);
    EXPECT_EQ(response.header("allow"), "GET, HEAD");
  }
}

TEST_P(ErrorsTest, OverlongPathsAndQueriesAre414) {
  expect_reason(get("/" + std::string(1100, 'a') + ".jpg"), 414, "path");
  expect_reason(get("/landscape.jpg?w=10&pad=" + std::string(2100, 'a')), 414, "query");
  // Far beyond the limits the request head itself is refused, still with a status.
  EXPECT_EQ(get("/landscape.jpg?pad=" + std::string(20000, 'a')).status, 414);
  EXPECT_EQ(get("/landscape.jpg?w=10").status, 200) << "the server is still fine";
}

TEST_P(ErrorsTest, SourcesWeDoNotServeAre415) {
  for (const char* path : {"/notimage.jpg", "/notimage.jpg?w=10", "/vector.svg", "/vector.svg?w=10&f=png"}) {
    expect_reason(get(path), 415, path);
  }
}

// A valid JPEG in a coding process libjpeg cannot decode is unsupported, not corrupt.
TEST_P(ErrorsTest, JpegCodingLibjpegCannotDecodeIs415) {
  const std::pair<const char*, const char*> table[] = {
      {"/lossless.jpg?w=4", "lossless JPEG is not supported\n"},
      {"/lossless.jpg?f=png", "lossless JPEG is not supported\n"},
      {"/twelve_bit.jpg?w=4", "12-bit JPEG is not supported\n"},
  };
  for (const auto& [path, reason] : table) {
    auto response = get(path);
    expect_reason(response, 415, path);
    EXPECT_EQ(response.body, reason) << path;
  }
  EXPECT_EQ(get("/lossless.jpg").status, 200) << "the original is still a JPEG, served as it is";
}

TEST_P(ErrorsTest, CorruptAndTruncatedImagesAre422) {
  for (const char* path : {"/truncated.jpg?w=100", "/corrupt.png?w=10", "/truncated.jpg?f=webp",
                           "/truncated_cmyk.jpg?w=100", "/truncated_cmyk.jpg?w=20"}) {
    expect_reason(get(path), 422, path);
  }
}

TEST_P(ErrorsTest, DecompressionBombIsRejectedFromTheHeader) {
  const long rss_before = service().server().peak_rss_kb();
  const auto started = std::chrono::steady_clock::now();
  expect_reason(get("/bomb.png?w=100"), 413, "60000x60000 header");
  const auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_LT(elapsed, std::chrono::seconds(2)) << "rejected from the header, without decoding";
  // 60000 x 60000 x 3 bytes would be 10 GB; the peak must not move by more than a few MB.
  EXPECT_LT(service().server().peak_rss_kb() - rss_before, 64 * 1024);
}

class LimitsTest : public ServiceTest {
 protected:
  std::vector<std::string> server_args() override {
    return {"--max-source-pixels", "10000000", "--max-frames", "2", "--max-source-mb", "1"};
  }
};
IMAGEFLEX_ON_EVERY_BACKEND(LimitsTest);

TEST_P(LimitsTest, PixelFrameAndByteLimitsAre413) {
  const long rss_before = service().server().peak_rss_kb();
  expect_reason(get("/bomb_real.png?w=100"), 413, "25 MP of real pixel data over a 10 MP limit");
  EXPECT_LT(service().server().peak_rss_kb() - rss_before, 32 * 1024) << "no pixels were decoded";
  expect_reason(get("/animated.gif?w=30"), 413, "3 frames over a limit of 2");
  service().put_original("big.jpg", make_heavy_jpeg(1600));  // about 1.4 MB of noise
  expect_reason(get("/big.jpg?w=100"), 413, "bytes over 1 MiB (variant)");
  expect_reason(get("/big.jpg"), 413, "bytes over 1 MiB (original)");
  EXPECT_EQ(get("/landscape.jpg?w=10&f=png").status, 200);
}

class OverloadTest : public ServiceTest {
 protected:
  std::vector<std::string> server_args() override { return {"--workers", "1", "--queue", "0"}; }
};
IMAGEFLEX_ON_EVERY_BACKEND(OverloadTest);

TEST_P(OverloadTest, AFullQueueGives503WithRetryAfter) {
  service().put_original("heavy.jpg", make_heavy_jpeg(1600));
  std::vector<HttpResponse> responses(6);
  std::vector<std::thread> clients;
  for (int i = 0; i < 6; ++i) {
    clients.emplace_back([&, i] {
      HttpClient client;
      // Distinct variants, so single flight cannot merge them.
      responses[i] = client.get(service().server().url("/heavy.jpg?f=avif&q=" + std::to_string(40 + i)));
    });
  }
  for (auto& c : clients) c.join();
  int ok = 0, busy = 0;
  for (const auto& r : responses) {
    if (r.status == 200) ++ok;
    if (r.status == 503) {
      ++busy;
      EXPECT_EQ(r.header("retry-after"), "1");
      expect_reason(r, 503, "overload");
    }
  }
  EXPECT_GE(ok, 1);
  EXPECT_GE(busy, 1);
  EXPECT_EQ(ok + busy, 6);
  EXPECT_GE(service().stat("overloaded"), busy);
  EXPECT_EQ(get("/_imageflex/health").status, 200);
}

class DeadlineTest : public ServiceTest {
 protected:
  // One second: long enough that a small transform with its store round trips
  // fits on a loaded CI machine, a quarter of the heavy job.
  std::vector<std::string> server_args() override {
    return {"--deadline-ms", "1000", "--avif-effort", std::to_string(kHeavyAvifEffort)};
  }
};
IMAGEFLEX_ON_EVERY_BACKEND(DeadlineTest);

TEST_P(DeadlineTest, PastTheDeadlineIs504AndNothingIsStored) {
  service().put_original("heavy.jpg", make_heavy_jpeg(3000));
  const auto started = std::chrono::steady_clock::now();
  auto response = get("/heavy.jpg?f=avif&q=61");
  const auto elapsed = std::chrono::steady_clock::now() - started;
  expect_reason(response, 504, "deadline");
  EXPECT_LT(elapsed, std::chrono::seconds(3));
  EXPECT_EQ(service().stat("timeouts"), 1);
  // The late job ends by itself (libvips stops pixel work at the deadline; an
  // encoder already inside libaom runs to its end) and counts as no transform.
  for (int i = 0; i < 300 && service().stat("running") > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(service().stat("running"), 0) << "the late job has ended";
  EXPECT_EQ(service().stat("transforms"), 0) << "a late job is not a transform";
  EXPECT_EQ(service().stat("store_bytes_written"), 0) << "a late job's image is not stored";
  // The server carries on.
  EXPECT_EQ(get("/landscape.jpg?w=10&f=png").status, 200);
  EXPECT_EQ(service().stat("transforms"), 1) << "only the small one";
  ImageRequest request = parse_request("/heavy.jpg?f=avif&q=61", 8192);
  auto original = service().store().stat("heavy.jpg");
  ASSERT_TRUE(original);
  Quality quality;
  quality.avif_effort = kHeavyAvifEffort;  // the server's: the key names it
  EXPECT_EQ(service().store().get(variant_key(request, original->etag, {}, quality), {}).status,
            GetStatus::kNotFound);
}

}  // namespace
}  // namespace imageflex::test
