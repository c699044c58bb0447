// AVIF that never makes a browser wait (--avif-budget-ms, default 300 ms): a large AVIF
// negotiated from Accept is answered with the WebP at once, briefly cacheable, and the AVIF
// is made in the background for the next request.
#include <chrono>
#include <thread>

#include "integration.h"

namespace imageflex::test {
namespace {

const std::vector<std::string> kAvifBrowser = {"Accept: image/avif,image/webp,image/apng,*/*;q=0.8"};

class AvifBudgetServerTest : public ServiceTest {
 protected:
  std::vector<std::string> server_args() override { return {"--deadline-ms", "60000"}; }
};
IMAGEFLEX_ON_EVERY_BACKEND(AvifBudgetServerTest);

TEST_P(AvifBudgetServerTest, ALargeAvifIsWebpNowAndAvifShortlyAfter) {
  service().put_original("heavy.jpg", make_heavy_jpeg(3000));
  // 1600x1600 AVIF: about 435 ms by the estimate, over the default 300 ms budget.
  const std::string path = "/heavy.jpg?w=1600";
  const auto started = std::chrono::steady_clock::now();
  const HttpResponse now = get(path, kAvifBrowser);
  const auto waited = std::chrono::steady_clock::now() - started;
  expect_image(now, "webpload", 1600, 1600);
  EXPECT_EQ(now.header("cache-control"), "public, max-age=30");
  EXPECT_EQ(now.header("vary"), "Accept");
  EXPECT_EQ(service().stat("avif_deferred"), 1);
  std::cout << "WebP stand-in answered in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(waited).count() << " ms\n";

  // The AVIF follows from the background: poll with a generous bound (a loaded 2-core machine).
  HttpResponse later;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < give_up) {
    later = get(path, kAvifBrowser);
    if (later.header("content-type") == "image/avif") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  expect_image(later, "heifload", 1600, 1600);
  EXPECT_EQ(later.header("cache-control"), "public, max-age=86400");
  EXPECT_EQ(later.header("vary"), "Accept");
  EXPECT_EQ(later.header("x-cache"), "hit-memory");
  EXPECT_EQ(service().stat("avif_background_made"), 1);
  EXPECT_EQ(service().stat("avif_background_failed"), 0);
  // The stand-in is the variant a WebP-only browser gets: it was made once, not again.
  const HttpResponse webp = get(path, {"Accept: image/webp,*/*"});
  expect_image(webp, "webpload", 1600, 1600);
  EXPECT_EQ(webp.body, now.body);
  EXPECT_EQ(webp.header("cache-control"), "public, max-age=86400");
}

TEST_P(AvifBudgetServerTest, AnExplicitAvifOrOneWithinTheBudgetIsMadeNow) {
  service().put_original("heavy.jpg", make_heavy_jpeg(3000));
  // f=avif is an order: made in the request, however long it takes.
  expect_image(get("/heavy.jpg?w=1500&f=avif"), "heifload", 1500, 1500);
  // 400x400 negotiated: about 27 ms by the estimate, well within the budget.
  const HttpResponse small = get("/heavy.jpg?w=400", kAvifBrowser);
  expect_image(small, "heifload", 400, 400);
  EXPECT_EQ(small.header("cache-control"), "public, max-age=86400");
  EXPECT_EQ(service().stat("avif_deferred"), 0);
  EXPECT_EQ(service().stat("avif_background_made"), 0);
}

}  // namespace
}  // namespace imageflex::test
