// Large bodies are not copied per client: an original is streamed from the file it was
// checked in (the folder store's own, or on S3 an unnamed spool file the GET was written
// to), a memory-cache hit shares the cache's one copy, and a store hit too large for the
// memory cache is streamed like an original. Many clients that ask for a large body and
// never read it then cost the server little memory, and what is sent is still the exact
// bytes of the version checked. Real sockets, on the folder store and the real Swift S3.
#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <iostream>
#include <memory>
#include <thread>

#include "integration.h"
#include "raw_client.h"

namespace imageflex::test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kNonReaders = 100;
constexpr int kHandlerThreads = 16;  // --handler-threads' default: at most this many GETs at once
// Generous: a copy per client would be 100 %; streaming and sharing hold a few percent.
constexpr double kMaxGrowthShare = 0.25;
// Long enough that no non-reader is cut while it is measured, however loaded the machine.
const std::vector<std::string> kPatientSends = {"--send-timeout-ms", "60000"};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// On S3, large bodies are spooled to a folder of the test's own (spool_dir), so what the
// server holds open in it can be counted.
std::unique_ptr<ServiceUnderTest> start(std::vector<std::string> args, Backend backend = Backend::kFilesystem,
                                        const std::string& spool_dir = "") {
  args.insert(args.end(), kPatientSends.begin(), kPatientSends.end());
  std::map<std::string, std::string> env;
  if (!spool_dir.empty()) env["IF_S3_SPOOL_DIR"] = spool_dir;
  return std::make_unique<ServiceUnderTest>(backend, std::move(args), env);
}

// The descriptors process `pid` holds open on files of `dir` (spool files have no name,
// but their descriptors still name the folder).
int files_open_in(pid_t pid, const std::string& dir) {
  int open = 0;
  const std::string fds = "/proc/" + std::to_string(pid) + "/fd";
  DIR* listing = ::opendir(fds.c_str());
  for (dirent* entry = listing ? ::readdir(listing) : nullptr; entry; entry = ::readdir(listing)) {
    char target[4096];
    const ssize_t n = ::readlink((fds + "/" + entry->d_name).c_str(), target, sizeof target - 1);
    open += n > 0 && std::string(target, static_cast<std::size_t>(n)).rfind(dir + "/", 0) == 0;
  }
  if (listing) ::closedir(listing);
  return open;
}

// A photo-sized JPEG of noise, about 4.6 MB (the original), quick to make.
const std::string& large_jpeg() {
  static const std::string bytes = make_heavy_jpeg(2900);
  return bytes;
}

// What `kNonReaders` clients that ask for `path` and then never read cost the server: the
// growth of its resident memory (KiB) over what one served request left, the highest of
// samples taken while the server writes all it can to them. Health must answer meanwhile,
// and every client must have got a 200 head of `body_bytes`.
long memory_held_by_non_readers(ServiceUnderTest& service, const std::string& path, std::size_t body_bytes,
                                const std::function<void()>& while_held = {}) {
  const auto first = service.get(path);  // the server's one-time allocations happen here, before the baseline
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(first.body.size(), body_bytes);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const long before = service.server().rss_kb();

  std::vector<std::unique_ptr<RawConnection>> clients;
  for (int i = 0; i < kNonReaders; ++i) {
    clients.push_back(std::make_unique<RawConnection>(service.server().port(), 4096));
    clients.back()->send("GET " + path + " HTTP/1.1\r\nHost: test\r\n\r\n");
  }
  long peak = before;
  HttpClient health;
  for (int sample = 0; sample < 15; ++sample) {
    const auto asked = Clock::now();
    EXPECT_EQ(health.get(service.server().url("/_imageflex/health")).status, 200);
    EXPECT_LT(seconds_since(asked), 3.0) << "health waited behind the non-readers";
    peak = std::max(peak, service.server().rss_kb());
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  // Every client was answered (its head is in its small receive buffer), and none was cut.
  // (On S3 a head comes once its GET is spooled, at the store's pace.)
  for (auto& client : clients) {
    const std::string head = client->read_some(512, 30);
    EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << head.substr(0, 100);
    EXPECT_NE(head.find("Content-Length: " + std::to_string(body_bytes) + "\r\n"), std::string::npos);
    EXPECT_FALSE(client->closed());
  }
  // And now that all of them hold a response in the middle of its body.
  for (int sample = 0; sample < 5; ++sample) {
    peak = std::max(peak, service.server().rss_kb());
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  if (while_held) while_held();
  return peak - before;
}

void expect_little_held(long held_kb, std::size_t body_bytes) {
  const double copies_kb = static_cast<double>(kNonReaders) * static_cast<double>(body_bytes) / 1024;
  EXPECT_LT(static_cast<double>(held_kb), kMaxGrowthShare * copies_kb)
      << kNonReaders << " non-readers of " << body_bytes << " bytes held " << held_kb / 1024
      << " MiB more; a copy each would be " << static_cast<long>(copies_kb / 1024) << " MiB";
  std::cout << "[ measured ] " << kNonReaders << " non-readers of " << body_bytes << " bytes: RSS +"
            << held_kb / 1024 << " MiB (a copy each: " << static_cast<long>(copies_kb / 1024) << " MiB)\n";
}

// What streams from the store does so on every backend: on S3 from spool files, one a
// client, each gone when its client is.
class LargeBodiesOnEveryBackend : public ::testing::TestWithParam<Backend> {
 protected:
  void TearDown() override { remove_tree(spool_); }
  std::unique_ptr<ServiceUnderTest> start_here(std::vector<std::string> args) {
    return start(std::move(args), GetParam(), GetParam() == Backend::kS3 ? spool_ : "");
  }
  // Spool files the server holds open (none on the folder store).
  int spooled(ServiceUnderTest& service) const { return files_open_in(service.server().pid(), spool_); }

  std::string spool_ = make_temp_dir();
};

TEST_P(LargeBodiesOnEveryBackend, NonReadersOfALargeOriginalHoldLittleMemory) {
  auto service = start_here({});
  service->put_original("large.jpg", large_jpeg());
  const auto count_spooled = [&] {
    // One version, shared once spooled: at most those spooled at once before the first was done.
    if (GetParam() == Backend::kS3) {
      EXPECT_LE(spooled(*service), kHandlerThreads) << "a spool file a client";
    }
  };
  expect_little_held(memory_held_by_non_readers(*service, "/large.jpg", large_jpeg().size(), count_spooled),
                     large_jpeg().size());
  const auto again = service->get("/large.jpg");
  EXPECT_TRUE(again.body == large_jpeg()) << "the bytes of the object, exactly";
}

// A lossless variant of noise at its full size: several MB, made once and then served from memory or the
// store.
constexpr const char* kLargeVariant = "/noise.jpg?f=png";

HttpResponse make_large_variant(ServiceUnderTest& service) {
  service.put_original("noise.jpg", make_heavy_jpeg(2200));
  const auto made = service.get(kLargeVariant);
  EXPECT_EQ(made.status, 200);
  EXPECT_EQ(made.header("x-cache"), "miss");
  EXPECT_GT(made.body.size(), std::size_t{3} << 20) << "large enough to tell a copy per client";
  return made;
}

// A hit of the large variant (from `outcome`) is exact, and 200 non-readers of it hold little.
void expect_non_readers_of_a_hit_hold_little(ServiceUnderTest& service, const std::string& outcome) {
  const auto made = make_large_variant(service);
  const auto hit = service.get(kLargeVariant);
  EXPECT_EQ(hit.header("x-cache"), outcome);
  EXPECT_TRUE(hit.body == made.body);
  expect_little_held(memory_held_by_non_readers(service, kLargeVariant, made.body.size()), made.body.size());
  EXPECT_TRUE(service.get(kLargeVariant).body == made.body);
}

TEST(LargeBodiesTest, NonReadersOfAMemoryHitShareTheCachedCopy) {
  expect_non_readers_of_a_hit_hold_little(*start({"--memory-cache-mb", "256"}), "hit-memory");
}

// Without a memory cache (or with one too small for the variant), a store hit is streamed too.
TEST_P(LargeBodiesOnEveryBackend, NonReadersOfAStoreHitTooLargeForMemoryHoldLittle) {
  expect_non_readers_of_a_hit_hold_little(*start_here({"--memory-cache-mb", "0"}), "hit-store");
}

// The version checked is the one sent: an original replaced while a slow client reads it
// still reaches that client whole and unmixed; later requests get the new one. HEAD and
// 304 of a streamed original keep their exact Content-Length and no body.
TEST_P(LargeBodiesOnEveryBackend, AStreamedOriginalIsTheVersionThatWasChecked) {
  auto service = start_here({});
  service->put_original("large.jpg", large_jpeg());
  RawConnection slow(service->server().port(), 4096);
  slow.send("GET /large.jpg HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
  std::string received = slow.read_some(4096, 5);
  ASSERT_EQ(received.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << received.substr(0, 100);

  const std::string replacement = make_heavy_jpeg(600);
  service->put_original("large.jpg", replacement);
  received += slow.read_until_closed(30);
  const auto responses = parse_responses(received);
  ASSERT_EQ(responses.size(), 1u) << received.size() << " bytes received";
  EXPECT_TRUE(responses[0].body == large_jpeg()) << "the version first checked, whole";

  const auto now = service->get("/large.jpg");
  EXPECT_TRUE(now.body == replacement);
  const auto head = service->head("/large.jpg");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("content-length"), std::to_string(replacement.size()));
  EXPECT_TRUE(head.body.empty());
  const auto held = service->get("/large.jpg", {"If-None-Match: " + now.header("etag")});
  EXPECT_EQ(held.status, 304);
  EXPECT_TRUE(held.body.empty());
  EXPECT_EQ(spooled(*service), 0) << "every spool file went with its response";
}

IMAGEFLEX_ON_EVERY_BACKEND(LargeBodiesOnEveryBackend);

}  // namespace
}  // namespace imageflex::test
