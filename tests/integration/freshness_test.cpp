// Freshness against the cost of asking: an original's version learnt from the store is
// trusted for --trust-version-ms on a node, so hits inside it make no store request (and a
// memory hit needs no handler thread); after it, or with 0, a replaced original is served new.
#include <chrono>
#include <future>
#include <thread>

#include "integration.h"

namespace imageflex::test {
namespace {

using std::chrono::milliseconds;

constexpr const char* kVariant = "/landscape.jpg?w=90&f=png";

// A window far longer than any test, so "inside it" cannot depend on the machine's speed.
class TrustedVersionTest : public ServiceTest {
 protected:
  std::vector<std::string> server_args() override { return {"--trust-version-ms", "600000"}; }
};
IMAGEFLEX_ON_EVERY_BACKEND(TrustedVersionTest);

TEST_P(TrustedVersionTest, HitsInsideTheWindowMakeNoStoreRequest) {
  const auto made = get(kVariant);
  ASSERT_EQ(made.status, 200);
  const long requests = service().stat("store_requests");
  const long read = service().stat("store_bytes_read");
  for (int i = 0; i < 20; ++i) {
    const auto hit = get(kVariant);
    EXPECT_EQ(hit.header("x-cache"), "hit-memory");
    EXPECT_EQ(hit.body, made.body);
  }
  EXPECT_EQ(service().stat("store_requests"), requests) << "a hit asked the store";
  EXPECT_EQ(service().stat("store_bytes_read"), read);
  EXPECT_GE(service().stat("answered_on_io_thread"), 20) << "hits waited for a handler thread";
}

// The documented price: inside the window a replaced original's old variant is still
// served; a variant not made yet finds the new version (its read is pinned to the old one).
TEST_P(TrustedVersionTest, InsideTheWindowAReplacedOriginalMayBeStaleButAMissIsNot) {
  const auto before = get(kVariant);
  ASSERT_EQ(before.status, 200);
  service().put_original("landscape.jpg", fixture("stripes.jpg"));
  const auto stale = get(kVariant);
  EXPECT_EQ(stale.header("x-cache"), "hit-memory");
  EXPECT_EQ(stale.body, before.body);
  const auto other = get("/landscape.jpg?w=91&f=png");
  ASSERT_EQ(other.status, 200) << other.body;
  EXPECT_EQ(decode(other.body).height, 30) << "stripes are 3:1";
  const auto now_new = get(kVariant);
  EXPECT_EQ(decode(now_new.body).height, 30) << "the version the miss found is trusted from then on";
}

// A memory hit is answered on the I/O thread: it is served while the only handler thread
// waits on a long transform (the transform is still running when the hit has arrived).
class OneHandlerThreadTest : public ServiceTest {
 protected:
  std::vector<std::string> server_args() override {
    return {"--trust-version-ms", "600000", "--handler-threads", "1", "--workers", "1"};
  }
};
IMAGEFLEX_ON_EVERY_BACKEND(OneHandlerThreadTest);

TEST_P(OneHandlerThreadTest, AHitIsServedWhileEveryHandlerThreadIsBusy) {
  ASSERT_EQ(get(kVariant).status, 200);
  service().put_original("heavy.jpg", make_heavy_jpeg(3000));
  auto miss = std::async(std::launch::async, [this] {
    HttpClient client;
    return client.get(service().server().url("/heavy.jpg?f=avif&w=2900"));
  });
  for (int i = 0; i < 200 && service().stat("running") == 0; ++i)
    std::this_thread::sleep_for(milliseconds(50));
  ASSERT_EQ(service().stat("running"), 1) << "the miss never started";
  const auto hit = get(kVariant);
  EXPECT_EQ(hit.status, 200);
  EXPECT_EQ(hit.header("x-cache"), "hit-memory");
  EXPECT_EQ(service().stat("running"), 1) << "the hit was answered only after the transform";
  EXPECT_EQ(miss.get().status, 200);
}

// Today's behaviour: every request asks the store, so a replaced original is new at once.
class NoTrustWindowTest : public ServiceTest {
 protected:
  std::vector<std::string> server_args() override { return {"--trust-version-ms", "0"}; }
};
IMAGEFLEX_ON_EVERY_BACKEND(NoTrustWindowTest);

TEST_P(NoTrustWindowTest, EveryHitAsksTheStoreOnce) {
  ASSERT_EQ(get(kVariant).status, 200);
  const long requests = service().stat("store_requests");
  for (int i = 0; i < 5; ++i) EXPECT_EQ(get(kVariant).header("x-cache"), "hit-memory");
  EXPECT_EQ(service().stat("store_requests"), requests + 5) << "one stat (a HEAD on S3) per hit";
}

TEST_P(NoTrustWindowTest, AChangedOriginalIsNeverServedStale) {
  auto before = get(kVariant);
  ASSERT_EQ(before.status, 200);
  ASSERT_EQ(get(kVariant).header("x-cache").rfind("hit", 0), 0u);
  // Replace the original with a different picture under the same name.
  service().put_original("landscape.jpg", fixture("stripes.jpg"));
  auto after = get(kVariant);
  ASSERT_EQ(after.status, 200);
  EXPECT_EQ(after.header("x-cache"), "miss");
  EXPECT_EQ(decode(after.body).height, 30) << "stripes are 3:1";
  EXPECT_NE(after.header("etag"), before.header("etag"));
  EXPECT_LE(hamming(dhash(after.body), dhash(fixture("stripes.jpg"))), 4);
  // The original itself is served fresh too.
  EXPECT_EQ(get("/landscape.jpg").body, fixture("stripes.jpg"));
}

// The misses of one picture (its widths, its formats) read it from the store once: the
// original is kept in memory by its version (--original-cache-mb), so a replaced original is
// read again, never made from the bytes kept.
TEST_P(NoTrustWindowTest, MissesOfOnePictureReadItOnceAndAReplacedOneAgain) {
  ASSERT_EQ(get("/landscape.jpg?w=90&f=png").status, 200);
  const long read = service().stat("store_bytes_read");
  const auto second = get("/landscape.jpg?w=80&f=webp");
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(second.header("x-cache"), "miss");
  EXPECT_EQ(service().stat("originals_reused"), 1);
  EXPECT_EQ(service().stat("store_bytes_read"), read) << "the original was read from the store again";
  service().put_original("landscape.jpg", fixture("stripes.jpg"));
  const auto replaced = get("/landscape.jpg?w=60&f=png");
  ASSERT_EQ(replaced.status, 200) << replaced.body;
  EXPECT_EQ(decode(replaced.body).height, 20) << "made from the old original: stripes are 3:1";
  EXPECT_EQ(service().stat("originals_reused"), 1);
  EXPECT_GT(service().stat("store_bytes_read"), read);
}

class NoOriginalCacheTest : public ServiceTest {
 protected:
  std::vector<std::string> server_args() override { return {"--original-cache-mb", "0"}; }
};
IMAGEFLEX_ON_EVERY_BACKEND(NoOriginalCacheTest);

TEST_P(NoOriginalCacheTest, EveryMissReadsTheOriginal) {
  ASSERT_EQ(get("/landscape.jpg?w=90&f=png").status, 200);
  const long read = service().stat("store_bytes_read");
  ASSERT_EQ(get("/landscape.jpg?w=80&f=png").status, 200);
  EXPECT_EQ(service().stat("originals_reused"), 0);
  EXPECT_GT(service().stat("store_bytes_read"), read);
}

// The default window (one second): a replaced original is served new once it has passed.
class DefaultTrustWindowTest : public ServiceTest {};
IMAGEFLEX_ON_EVERY_BACKEND(DefaultTrustWindowTest);

TEST_P(DefaultTrustWindowTest, AfterTheWindowAReplacedOriginalIsServedNew) {
  const auto before = get(kVariant);
  ASSERT_EQ(before.status, 200);
  service().put_original("landscape.jpg", fixture("stripes.jpg"));
  std::this_thread::sleep_for(milliseconds(1100));
  const auto after = get(kVariant);
  ASSERT_EQ(after.status, 200);
  EXPECT_EQ(after.header("x-cache"), "miss");
  EXPECT_EQ(decode(after.body).height, 30) << "stripes are 3:1";
}

}  // namespace
}  // namespace imageflex::test
