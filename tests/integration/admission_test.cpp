// Admission before work: the header is read and probed first (a range read), the cost
// is judged from it, and only an admitted transform reads the whole original. Output
// bounds refuse huge results before they are made; identical outputs share one variant.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include "image/pipeline.h"
#include "integration.h"

namespace imageflex::test {
namespace {

constexpr long kHeader = static_cast<long>(kHeaderBytes);

// The probe on a header prefix says what the probe on the whole file says, or that it
// cannot tell; it never guesses.
TEST(ProbePrefixTest, APrefixGivesTheWholeFilesAnswerOrNone) {
  const std::string heavy = make_heavy_jpeg(1600);  // also starts libvips in this process
  ASSERT_GT(heavy.size(), kHeaderBytes);
  const Limits limits;
  const auto from_prefix =
      probe_prefix(std::string_view(heavy).substr(0, kHeaderBytes), heavy.size(), limits);
  ASSERT_TRUE(from_prefix.has_value()) << "a JPEG's header is at its start";
  const SourceInfo whole = probe(heavy, limits);
  EXPECT_EQ(from_prefix->size, whole.size);
  EXPECT_EQ(from_prefix->size, (Size{1600, 1600}));
  EXPECT_EQ(from_prefix->bands, whole.bands);
  EXPECT_FALSE(probe_prefix(std::string_view(heavy).substr(0, 40), heavy.size(), limits).has_value())
      << "the frame header is not in the first 40 bytes";
  for (const char* name : {"landscape.png", "alpha.png", "deep16.png", "portrait_exif6.jpg",
                           "cmyk_profile.jpg", "animated.webp", "animated.gif", "photo.tiff"}) {
    const std::string bytes = fixture(name);
    const SourceInfo expected = probe(bytes, limits);
    for (std::size_t cut : {std::size_t{64}, bytes.size() / 2, bytes.size()}) {
      const auto got = probe_prefix(std::string_view(bytes).substr(0, cut), bytes.size(), limits);
      if (cut == bytes.size()) {
        ASSERT_TRUE(got.has_value()) << name;
      }
      if (!got) continue;
      EXPECT_EQ(got->size, expected.size) << name << " cut at " << cut;
      EXPECT_EQ(got->frames, expected.frames) << name << " cut at " << cut;
      EXPECT_EQ(got->alpha, expected.alpha) << name << " cut at " << cut;
      EXPECT_EQ(got->cmyk, expected.cmyk) << name << " cut at " << cut;
    }
  }
  // Limits are judged against the whole size, from the prefix.
  Limits small;
  small.max_source_bytes = 1 << 20;
  EXPECT_THROW(probe_prefix(std::string_view(heavy).substr(0, kHeaderBytes), 2 << 20, small), Error);
}

// A budget that holds one large AVIF job (about 200 MiB by the estimate) with room for small
// ones beside it, but not for a second job of 110 MiB: 250 MiB for jobs over what the server
// sets aside at start. That is its resident memory then, about 30 MiB in a release build and
// over 100 MiB under ASan (a fixed 280 MiB budget refused the large job there with a 413), so
// it is read from a server started first with the same store and flags.
class AdmissionTest : public ServiceTest {
 protected:
  static constexpr long kRoomForJobsMb = 250;

  std::vector<std::string> server_args() override {
    std::vector<std::string> args = {"--workers", "2", "--queue", "0", "--deadline-ms", "60000"};
    const long reserved_mb = ServiceUnderTest(GetParam(), args).stat("memory_reserved_bytes") >> 20;
    budget_mb_ = reserved_mb + kRoomForJobsMb;
    args.insert(args.end(), {"--memory-budget-mb", std::to_string(budget_mb_)});
    return args;
  }

  long budget_mb_ = 0;
};
IMAGEFLEX_ON_EVERY_BACKEND(AdmissionTest);

TEST_P(AdmissionTest, AJobOverTheBudgetIs413AfterReadingOnlyTheHeader) {
  service().put_original("heavy.jpg", make_heavy_jpeg(3000));
  const long read_before = service().stat("store_bytes_read");
  // 16 MP to AVIF: about 360 MB by the estimate, over what the budget leaves for jobs alone.
  const HttpResponse refused = get("/heavy.jpg?w=4000&enlarge=true&f=avif");
  EXPECT_EQ(refused.status, 413) << refused.body;
  EXPECT_NE(refused.body.find("memory"), std::string::npos) << refused.body;
  EXPECT_LE(service().stat("store_bytes_read") - read_before, kHeader) << "only the header was read";
  // The probe is remembered: a second refusal reads nothing at all.
  const long read_after_first = service().stat("store_bytes_read");
  EXPECT_EQ(get("/heavy.jpg?w=3900&enlarge=true&f=avif").status, 413);
  EXPECT_EQ(service().stat("store_bytes_read"), read_after_first);
  EXPECT_EQ(service().stat("memory_admitted_bytes"), 0);
  EXPECT_EQ(service().stat("memory_budget_bytes"), budget_mb_ << 20);
  EXPECT_GT(service().stat("memory_reserved_bytes"), 0);
}

TEST_P(AdmissionTest, ABurstOfHugeJobsGets503WhileASmallOneIsServed) {
  service().put_original("heavy.jpg", make_heavy_jpeg(3000));
  // 9 MP to AVIF, about 210 MB by the estimate: admitted, and it takes seconds.
  HttpResponse big;
  std::atomic<bool> answered = false;
  std::thread leader([&] {
    HttpClient client;
    big = client.get(service().server().url("/heavy.jpg?f=avif"));
    answered = true;
  });
  // Running (or done): its whole read of the original is over, so what the burst below
  // reads is the burst's own. (Waiting only for its admission let that read land inside
  // the first measurement, once on S3.) A leader answered without a transform (refused)
  // ends the wait too, rather than hanging the test.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (service().stat("running") == 0 && service().stat("transforms") == 0 && !answered &&
         std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  if (answered && service().stat("transforms") == 0) {
    leader.join();
    FAIL() << "the big job was not made: " << big.status << " " << big.body;
  }

  int busy = 0;
  int busy_while_admitted = 0;
  for (int i = 0; i < 6; ++i) {
    const long read_before = service().stat("store_bytes_read");
    // Each of these (4 MP to AVIF, about 110 MB) needs more than the budget leaves beside it.
    const HttpResponse r = get("/heavy.jpg?f=avif&w=" + std::to_string(2000 + i));
    const bool still_admitted = service().stat("memory_admitted_bytes") > 0;
    if (r.status == 503) {
      ++busy;
      if (still_admitted) ++busy_while_admitted;
      EXPECT_EQ(r.header("retry-after"), "1");
      EXPECT_LE(service().stat("store_bytes_read") - read_before, kHeader) << "a 503 reads no original";
    } else {
      EXPECT_EQ(r.status, 200) << r.body;
    }
    // A small job fits beside the big one and is served.
    const HttpResponse small = get("/landscape.jpg?w=" + std::to_string(100 + i) + "&f=jpeg");
    EXPECT_EQ(small.status, 200) << small.body;
  }
  leader.join();
  EXPECT_EQ(big.status, 200) << big.body;
  // On a very slow machine the big job might end before any of the others came; on any
  // machine where it ran for a moment, the others were turned away without reading.
  if (busy_while_admitted == 0) GTEST_SKIP() << "the big job ended before the burst";
  EXPECT_GE(service().stat("overloaded"), busy);
  EXPECT_EQ(service().stat("memory_admitted_bytes"), 0);
}

class OutputBoundsTest : public ServiceTest {
 protected:
  std::vector<std::string> server_args() override { return {"--max-output-mb", "1"}; }
};
IMAGEFLEX_ON_EVERY_BACKEND(OutputBoundsTest);

TEST_P(OutputBoundsTest, HugeOutputsAre413AndNothingIsStored) {
  const long rss_before = service().server().peak_rss_kb();
  const HttpResponse pixels = get("/landscape.jpg?w=8192&h=8192&fit=fill&enlarge=true&f=png");
  EXPECT_EQ(pixels.status, 413) << pixels.body;
  EXPECT_NE(pixels.body.find("pixels"), std::string::npos) << pixels.body;
  EXPECT_LT(service().server().peak_rss_kb() - rss_before, 32 * 1024) << "refused before it was made";
  // Noise does not compress: 1200x1200 as PNG is about 4 MB, over the 1 MiB bound.
  service().put_original("noise.jpg", make_heavy_jpeg(1200));
  const HttpResponse bytes = get("/noise.jpg?f=png");
  EXPECT_EQ(bytes.status, 413) << bytes.body;
  EXPECT_NE(bytes.body.find("MiB"), std::string::npos) << bytes.body;
  EXPECT_EQ(get("/noise.jpg?w=100&f=png").status, 200);
  EXPECT_EQ(service().stat("transforms"), 1) << "only the small one was stored and counted";
  if (GetParam() == Backend::kFilesystem) {
    std::size_t files = 0;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(service().root() + "/_imageflex"))
      files += entry.is_regular_file() ? 1 : 0;
    EXPECT_EQ(files, 1u) << "the 413s stored nothing";
  }
}

// Identical outputs share one stored variant; different outputs do not.
class SharedVariantTest : public ServiceTest {};
INSTANTIATE_TEST_SUITE_P(Backends, SharedVariantTest, ::testing::Values(Backend::kFilesystem), backend_label);

TEST_P(SharedVariantTest, RequestsWithIdenticalOutputsShareOneStoredVariant) {
  const auto variants = [&] {
    std::size_t files = 0;
    const std::string dir = service().root() + "/_imageflex";
    if (!std::filesystem::exists(dir)) return files;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir))
      files += entry.is_regular_file() ? 1 : 0;
    return files;
  };
  struct Group {
    std::vector<std::pair<std::string, std::string>> requests;  // target, Accept
  };
  // landscape.jpg is 640x480; animated.gif is an animation (never AVIF).
  const std::vector<Group> same = {
      {{{"/landscape.jpg?w=300&f=png&q=50", ""}, {"/landscape.jpg?w=300&f=png&q=90", ""}}},
      {{{"/landscape.jpg?w=640&f=webp", ""},
        {"/landscape.jpg?w=1280&f=webp", ""},
        {"/landscape.jpg?f=webp", ""}}},
      {{{"/landscape.jpg?w=200", "Accept: image/avif"},
        {"/landscape.jpg?w=200", ""},
        {"/landscape.jpg?w=200&f=jpeg", ""}}},
      {{{"/animated.gif?w=40", "Accept: image/webp"},
        {"/animated.gif?w=40", "Accept: image/avif,image/webp"}}},
  };
  std::size_t expected = 0;
  for (const Group& group : same) {
    std::string body;
    std::string etag;
    for (const auto& [target, accept] : group.requests) {
      const HttpResponse r = get(target, accept.empty() ? std::vector<std::string>{} : std::vector{accept});
      ASSERT_EQ(r.status, 200) << target << " " << r.body;
      if (body.empty()) {
        body = r.body;
        etag = r.header("etag");
      }
      EXPECT_EQ(r.body, body) << target << " " << accept;
      EXPECT_EQ(r.header("etag"), etag) << target << " " << accept;
    }
    ++expected;
    EXPECT_EQ(variants(), expected) << "one stored variant for " << group.requests.front().first;
  }
  // Outputs that differ stay apart.
  const std::vector<std::pair<std::string, std::string>> differ = {
      {"/landscape.jpg?w=300&f=webp&q=50", ""},
      {"/landscape.jpg?w=300&f=webp&q=90", ""},
      {"/landscape.jpg?w=639&f=webp", ""},
      {"/landscape.jpg?w=1280&enlarge=true&f=webp", ""},
      {"/landscape.jpg?w=200", "Accept: image/avif,image/webp"},
      {"/landscape.jpg?w=200", "Accept: image/webp"},
  };
  std::set<std::string> etags;
  for (const auto& [target, accept] : differ) {
    const HttpResponse r = get(target, accept.empty() ? std::vector<std::string>{} : std::vector{accept});
    ASSERT_EQ(r.status, 200) << target;
    etags.insert(r.header("etag"));
  }
  EXPECT_EQ(etags.size(), differ.size());
  EXPECT_EQ(variants(), expected + differ.size());
}

}  // namespace
}  // namespace imageflex::test
