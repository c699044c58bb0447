// Store hits from held variant files (--open-files, storage/open_files.h), with the memory
// tier off: checked on every hit (--trust-version-ms 0), each hit is the bytes now at the
// variant's name, whatever happened to the file since it was opened (replaced, removed, cut
// short in place, evicted for the quota), or to the original; with the default window, a
// change made by hand is seen once the window has passed. The validators and 304s are
// those of any store hit, and a hit inside the trust window is answered on an I/O thread,
// so it never waits for a handler thread.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <future>
#include <thread>

#include "eventually.h"
#include "integration.h"

namespace imageflex::test {
namespace {

namespace fs = std::filesystem;

constexpr const char* kVariant = "/landscape.jpg?w=90&f=webp";
constexpr const char* kOther = "/landscape.jpg?w=60&f=webp";

// The stored variant files, in name order (a fresh folder holds only this test's).
std::vector<std::string> variant_files(const std::string& root) {
  std::vector<std::string> files;
  if (!fs::exists(root + "/_imageflex")) return files;
  for (const auto& entry : fs::recursive_directory_iterator(root + "/_imageflex")) {
    if (entry.is_regular_file() && entry.path().filename().string().rfind(".tmp-", 0) != 0)
      files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// The file of the one variant made so far.
std::string only_variant_file(const std::string& root) {
  auto files = variant_files(root);
  EXPECT_EQ(files.size(), 1u);
  return files.empty() ? "" : files.front();
}

// The memory tier off, so every hit comes from the store. Held files are checked against
// their names once per --trust-version-ms: with 0, on every hit.
class HeldFilesTest : public ::testing::Test {
 protected:
  explicit HeldFilesTest(const std::string& trust_version_ms = "0")
      : service_(Backend::kFilesystem, {"--memory-cache-mb", "0", "--trust-version-ms", trust_version_ms}) {}

  // Makes kVariant and serves it once from the store, so its file is held; that first hit.
  HttpResponse make_and_hold() {
    const auto made = service_.get(kVariant);
    EXPECT_EQ(made.header("x-cache"), "miss");
    auto hit = service_.get(kVariant);
    EXPECT_EQ(hit.header("x-cache"), "hit-store");
    EXPECT_EQ(hit.body, made.body);
    EXPECT_EQ(hit.header("etag"), made.header("etag"));
    EXPECT_EQ(service_.stat("store_open_files"), 1) << "the variant's file is not held";
    return hit;
  }

  ServiceUnderTest service_;
};

// A trust window far longer than any test, so "inside the window" cannot depend on the
// machine's speed: hits are answered on the I/O thread.
class HeldFilesTrustedTest : public HeldFilesTest {
 protected:
  HeldFilesTrustedTest() : HeldFilesTest("600000") {}
};

// Every answer for a variant says the original's Last-Modified: a store hit once said the
// variant file's, which is newer, so a client or CDN revalidating with If-Modified-Since saw
// the same bytes change date with where they came from.
TEST_F(HeldFilesTest, AStoreHitSaysTheOriginalsLastModifiedAsAMissDoes) {
  fs::last_write_time(service_.root() + "/landscape.jpg",
                      fs::file_time_type::clock::now() - std::chrono::hours(24 * 400));
  const auto made = service_.get(kVariant);
  ASSERT_EQ(made.header("x-cache"), "miss");
  const auto hit = service_.get(kVariant);   // opened by path
  const auto held = service_.get(kVariant);  // from the held file
  ASSERT_EQ(hit.header("x-cache"), "hit-store");
  ASSERT_EQ(held.header("x-cache"), "hit-store");
  EXPECT_EQ(made.header("last-modified"), service_.get("/landscape.jpg").header("last-modified"));
  EXPECT_EQ(hit.header("last-modified"), made.header("last-modified"));
  EXPECT_EQ(held.header("last-modified"), made.header("last-modified"));
}

TEST_F(HeldFilesTrustedTest, HitsAreTheStoredBytesWithTheSameValidatorsOnAnIoThread) {
  const auto made = make_and_hold();  // opened by path on a handler thread: the reference
  ASSERT_EQ(decode(made.body).width, 90);
  const long on_io_thread = service_.stat("answered_on_io_thread");
  const long held_hits = service_.stat("store_open_file_hits");
  for (int i = 0; i < 20; ++i) {
    const auto hit = service_.get(kVariant);
    ASSERT_EQ(hit.status, 200);
    EXPECT_EQ(hit.header("x-cache"), "hit-store");
    EXPECT_EQ(hit.body, made.body);
    EXPECT_EQ(hit.header("etag"), made.header("etag"));
    EXPECT_EQ(hit.header("content-type"), "image/webp");
    EXPECT_EQ(hit.header("last-modified"), made.header("last-modified"));
  }
  EXPECT_GE(service_.stat("store_open_file_hits"), held_hits + 20);
  EXPECT_GE(service_.stat("answered_on_io_thread"), on_io_thread + 20)
      << "store hits waited for a handler thread";
  EXPECT_EQ(service_.stat("transforms"), 1);

  // A client holding the variant gets a 304; HEAD gets the headers of the bytes.
  const auto held = service_.get(kVariant, {"If-None-Match: " + made.header("etag")});
  EXPECT_EQ(held.status, 304);
  EXPECT_EQ(held.header("x-cache"), "hit-revalidated");
  EXPECT_TRUE(held.body.empty());
  const auto head = service_.head(kVariant);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("x-cache"), "hit-store");
  EXPECT_EQ(head.header("content-length"), std::to_string(made.body.size()));
  EXPECT_TRUE(head.body.empty());
}

// Another node (or an operator) writes other bytes under the variant's name, atomically, as a
// put does: the held descriptor is the old file, so the next hit must open the name again.
TEST_F(HeldFilesTest, AVariantReplacedUnderItsNameIsServedAsItIsNow) {
  make_and_hold();
  const std::string file = only_variant_file(service_.root());
  const auto other = service_.get(kOther);  // a distinguishable picture: 60 px wide
  ASSERT_EQ(decode(other.body).width, 60);
  write_file(file + ".new", other.body);
  fs::rename(file + ".new", file);

  const auto hit = service_.get(kVariant);
  EXPECT_EQ(hit.header("x-cache"), "hit-store");
  EXPECT_EQ(hit.body, other.body) << "the replaced file's bytes were served";
  EXPECT_EQ(hit.header("content-length"), std::to_string(other.body.size()));
}

TEST_F(HeldFilesTest, ARemovedVariantIsMadeAgain) {
  const auto made = make_and_hold();
  fs::remove(only_variant_file(service_.root()));

  const auto again = service_.get(kVariant);
  EXPECT_EQ(again.header("x-cache"), "miss") << "served from a file no longer in the store";
  EXPECT_EQ(again.body, made.body);
  EXPECT_EQ(service_.stat("transforms"), 2) << "kVariant twice, and nothing else";
}

// A file cut short in place (the same file, fewer bytes): the descriptor still reads it, so
// the hit must see that it changed, and a torn variant is no variant (fs_storage.cpp).
TEST_F(HeldFilesTest, AVariantCutShortInPlaceIsAMissNotAShortBody) {
  const auto made = make_and_hold();
  const std::string file = only_variant_file(service_.root());
  fs::resize_file(file, made.body.size() / 2);

  const auto again = service_.get(kVariant);
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(again.header("x-cache"), "miss");
  EXPECT_EQ(again.body, made.body);
  EXPECT_EQ(again.header("content-length"), std::to_string(made.body.size()));
}

// The default window (one second): a variant deleted by hand may be served from its held
// file inside it (the same bytes its key names), and is made again once it has passed.
class HeldFilesDefaultWindowTest : public HeldFilesTest {
 protected:
  HeldFilesDefaultWindowTest() : HeldFilesTest("1000") {}
};

TEST_F(HeldFilesDefaultWindowTest, ARemovedVariantIsMadeAgainOnceTheWindowHasPassed) {
  const auto made = make_and_hold();
  fs::remove(only_variant_file(service_.root()));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  const auto again = service_.get(kVariant);
  EXPECT_EQ(again.header("x-cache"), "miss") << "served from a file deleted over a window ago";
  EXPECT_EQ(again.body, made.body);
}

// The original replaced: its new version names other variants, never the held file.
TEST(HeldFilesFreshnessTest, AChangedOriginalIsNeverServedFromAHeldFile) {
  ServiceUnderTest service(Backend::kFilesystem, {"--memory-cache-mb", "0", "--trust-version-ms", "0"});
  const auto before = service.get(kVariant);
  ASSERT_EQ(before.status, 200);
  ASSERT_EQ(service.get(kVariant).header("x-cache"), "hit-store");
  ASSERT_EQ(service.stat("store_open_files"), 1);

  service.put_original("landscape.jpg", fixture("stripes.jpg"));
  const auto after = service.get(kVariant);
  ASSERT_EQ(after.status, 200);
  EXPECT_EQ(after.header("x-cache"), "miss");
  EXPECT_EQ(decode(after.body).height, 30) << "stripes are 3:1";
  EXPECT_NE(after.header("etag"), before.header("etag"));
  EXPECT_EQ(service.get(kVariant).body, after.body);
}

// A held variant evicted for the quota is let go at once (its disk space is freed, not kept
// by the descriptor), and is made again when asked for.
TEST(HeldFilesQuotaTest, AnEvictedVariantIsLetGoAndMadeAgain) {
  ServiceUnderTest service(Backend::kFilesystem, {"--variant-quota-mb", "1", "--memory-cache-mb", "0"});
  service.put_original("noise.jpg", make_heavy_jpeg(600));  // noise: PNG variants of 60-260 KB
  const std::string held = "/noise.jpg?w=100&f=webp";
  const auto made = service.get(held);
  ASSERT_EQ(made.status, 200);
  ASSERT_EQ(service.get(held).header("x-cache"), "hit-store");
  ASSERT_EQ(service.stat("store_open_files"), 1);

  // Larger variants, made and never asked for again, push it out as the least recently used.
  for (int i = 0; i < 24 && service.stat("store_evictions") == 0; ++i) {
    ASSERT_EQ(service.get("/noise.jpg?w=" + std::to_string(300 + 10 * i) + "&f=png").status, 200);
  }
  EXPECT_TRUE(eventually([&] { return service.stat("store_open_files") == 0; }))
      << "the evicted variant's file is still held";
  const auto again = service.get(held);
  EXPECT_EQ(again.header("x-cache"), "miss");
  EXPECT_EQ(again.body, made.body);
}

// Inside the trust window a store hit needs no handler thread: it is served while the only
// one waits on a long transform (still running when the hit has been answered).
TEST(HeldFilesThreadsTest, AStoreHitIsServedWhileEveryHandlerThreadIsBusy) {
  ServiceUnderTest service(Backend::kFilesystem, {"--memory-cache-mb", "0", "--trust-version-ms", "600000",
                                                  "--handler-threads", "1", "--workers", "1"});
  ASSERT_EQ(service.get(kVariant).status, 200);
  ASSERT_EQ(service.get(kVariant).header("x-cache"), "hit-store");
  service.put_original("heavy.jpg", make_heavy_jpeg(3000));
  auto miss = std::async(std::launch::async, [&service] {
    HttpClient client;
    return client.get(service.server().url("/heavy.jpg?f=avif&w=2900"));
  });
  for (int i = 0; i < 200 && service.stat("running") == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_EQ(service.stat("running"), 1) << "the miss never started";
  const auto hit = service.get(kVariant);
  EXPECT_EQ(hit.status, 200);
  EXPECT_EQ(hit.header("x-cache"), "hit-store");
  EXPECT_EQ(service.stat("running"), 1) << "the hit was answered only after the transform";
  EXPECT_EQ(miss.get().status, 200);
}

// --open-files 0: nothing held, every store hit opens the file on a handler thread.
TEST(HeldFilesOffTest, WithNoneHeldStoreHitsStillServeTheBytes) {
  ServiceUnderTest service(Backend::kFilesystem,
                           {"--memory-cache-mb", "0", "--trust-version-ms", "600000", "--open-files", "0"});
  const auto made = service.get(kVariant);
  const long on_io_thread = service.stat("answered_on_io_thread");
  for (int i = 0; i < 3; ++i) {
    const auto hit = service.get(kVariant);
    EXPECT_EQ(hit.header("x-cache"), "hit-store");
    EXPECT_EQ(hit.body, made.body);
  }
  EXPECT_EQ(service.stat("answered_on_io_thread"), on_io_thread + 1) << "only the last stats request";
  EXPECT_EQ(service.stat("store_open_files"), 0);
}

}  // namespace
}  // namespace imageflex::test
