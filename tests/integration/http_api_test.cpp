// The URL API and HTTP behaviour, over real sockets, on every backend.
#include "integration.h"

namespace imageflex::test {
namespace {

class HttpApiTest : public ServiceTest {};
IMAGEFLEX_ON_EVERY_BACKEND(HttpApiTest);

const std::string kAvifWebp = "Accept: image/avif,image/webp,*/*";

TEST_P(HttpApiTest, OriginalIsServedUnchangedWithItsTrueType) {
  auto response = get("/landscape.jpg");
  ASSERT_EQ(response.status, 200);
  EXPECT_EQ(response.body, fixture("landscape.jpg"));
  EXPECT_EQ(response.header("content-type"), "image/jpeg");
  EXPECT_EQ(response.header("content-length"), std::to_string(response.body.size()));
  EXPECT_EQ(response.header("cache-control"), "public, max-age=3600");
  EXPECT_EQ(response.header("x-cache").rfind("original", 0), 0u);
  EXPECT_FALSE(response.has_header("vary"));
  EXPECT_TRUE(response.has_header("etag"));
  EXPECT_TRUE(response.has_header("last-modified"));
  // The type comes from the bytes, not the name.
  EXPECT_EQ(get("/png_named.jpg").header("content-type"), "image/png");
  EXPECT_EQ(get("/photo.tiff").header("content-type"), "image/tiff");
}

TEST_P(HttpApiTest, OneSideKeepsTheAspectRatio) {
  expect_image(get("/landscape.jpg?w=320&f=jpeg"), "jpegload", 320, 240);
  expect_image(get("/landscape.jpg?h=120&f=jpeg"), "jpegload", 160, 120);
}

TEST_P(HttpApiTest, BothSidesCoverTheBoxAndCropTheCentre) {
  auto response = get("/stripes.jpg?w=100&h=100&f=png");
  expect_image(response, "pngload", 100, 100);
  // The middle third of red | green | blue is green; a centred square shows only green.
  EXPECT_LT(colour_distance(rgb_of(mean_colour(response.body, 0, 0, 100, 100)), rgb(kGreen)), 12);
}

TEST_P(HttpApiTest, FitModes) {
  auto contain = get("/stripes.jpg?w=200&h=200&fit=contain&f=png");
  expect_image(contain, "pngload", 200, 200);
  // Letterboxed: white bars above and below, all three stripes in the middle.
  EXPECT_LT(colour_distance(rgb_of(mean_colour(contain.body, 0, 0, 200, 20)), {255, 255, 255}), 4);
  EXPECT_LT(colour_distance(rgb_of(mean_colour(contain.body, 10, 90, 40, 20)), rgb(kRed)), 12);
  EXPECT_LT(colour_distance(rgb_of(mean_colour(contain.body, 150, 90, 40, 20)), rgb(kBlue)), 12);

  expect_image(get("/stripes.jpg?w=200&h=200&fit=inside&f=png"), "pngload", 200, 67);

  auto fill = get("/stripes.jpg?w=200&h=200&fit=fill&f=png");
  expect_image(fill, "pngload", 200, 200);
  EXPECT_LT(colour_distance(rgb_of(mean_colour(fill.body, 5, 5, 50, 190)), rgb(kRed)), 12);
  EXPECT_LT(colour_distance(rgb_of(mean_colour(fill.body, 145, 5, 50, 190)), rgb(kBlue)), 12);
}

TEST_P(HttpApiTest, NeverEnlargesUnlessAsked) {
  expect_image(get("/landscape.jpg?w=1000&f=jpeg"), "jpegload", 640, 480);
  expect_image(get("/landscape.jpg?w=1000&f=jpeg&enlarge=true"), "jpegload", 1000, 750);
}

TEST_P(HttpApiTest, FormatAloneConvertsAtTheOriginalSize) {
  expect_image(get("/landscape.jpg?f=webp"), "webpload", 640, 480);
  expect_image(get("/landscape.png?f=avif"), "heifload", 640, 480);
  expect_image(get("/landscape.jpg?f=gif"), "gifload", 640, 480);
}

TEST_P(HttpApiTest, QualityChangesTheEncoding) {
  auto low = get("/landscape.jpg?w=320&f=webp&q=10");
  auto high = get("/landscape.jpg?w=320&f=webp&q=95");
  ASSERT_EQ(low.status, 200);
  ASSERT_EQ(high.status, 200);
  EXPECT_LT(low.body.size(), high.body.size());
}

struct NegotiationCase {
  const char* path;
  const char* accept;  // nullptr: no Accept header
  const char* content_type;
};

TEST_P(HttpApiTest, NegotiatesTheFormatFromAccept) {
  const NegotiationCase table[] = {
      {"/landscape.jpg?w=100", "image/avif,image/webp,*/*", "image/avif"},
      {"/landscape.jpg?w=100", "image/webp,*/*;q=0.8", "image/webp"},
      {"/landscape.jpg?w=100", "image/avif;q=0,image/webp", "image/webp"},
      {"/landscape.jpg?w=100", "*/*", "image/jpeg"},
      {"/landscape.jpg?w=100", "image/*", "image/jpeg"},
      {"/landscape.jpg?w=100", nullptr, "image/jpeg"},
      {"/landscape.png?w=100", nullptr, "image/png"},
      {"/photo.tiff?w=100", "*/*", "image/jpeg"},
      {"/alpha.tiff?w=100", "*/*", "image/png"},
      {"/animated.webp?w=30", "*/*", "image/gif"},
  };
  for (const auto& row : table) {
    std::vector<std::string> headers;
    if (row.accept) headers.push_back(std::string("Accept: ") + row.accept);
    auto response = get(row.path, headers);
    EXPECT_EQ(response.status, 200) << row.path;
    EXPECT_EQ(response.header("content-type"), row.content_type)
        << row.path << " Accept: " << (row.accept ?: "-");
    EXPECT_EQ(response.header("vary"), "Accept") << row.path;
    // What the header claims is what the bytes are.
    auto sniffed = decode(response.body).loader;
    std::string expected_loader = std::string(row.content_type) == "image/avif"   ? "heifload"
                                  : std::string(row.content_type) == "image/webp" ? "webpload"
                                  : std::string(row.content_type) == "image/png"  ? "pngload"
                                  : std::string(row.content_type) == "image/gif"  ? "gifload"
                                                                                  : "jpegload";
    EXPECT_EQ(sniffed, expected_loader) << row.path;
  }
  // An explicit f= does not depend on Accept, so nothing varies.
  EXPECT_FALSE(get("/landscape.jpg?w=100&f=png", {kAvifWebp}).has_header("vary"));
}

TEST_P(HttpApiTest, EquivalentRequestsAreOneVariant) {
  const char* spellings[] = {
      "/landscape.jpg?w=300&f=jpeg",      "/landscape.jpg?w=0300&f=jpeg",
      "/landscape.jpg?f=jpg&w=300",       "/landscape.jpg?f=JPEG&w=300&utm_source=news",
      "/landscape.jpg?w=300&f=jpeg&q=80", "/landscape.jpg?w=300&fit=contain&f=jpeg",
  };
  std::string first_body;
  for (const char* path : spellings) {
    auto response = get(path);
    ASSERT_EQ(response.status, 200) << path;
    if (first_body.empty()) first_body = response.body;
    EXPECT_EQ(response.body, first_body) << path;
  }
  EXPECT_EQ(service().stat("transforms"), 1);
}

TEST_P(HttpApiTest, NamesWithSpacesAndNonAsciiWork) {
  expect_image(get("/space%20name%20%C3%A9.jpg?w=100&f=png"), "pngload", 100, 75);
  EXPECT_EQ(get("/space%20name%20%C3%A9.jpg").status, 200);
}

TEST_P(HttpApiTest, HeadGivesTheHeadersWithoutABody) {
  auto full = get("/landscape.jpg?w=200&f=webp");
  auto head = service().head("/landscape.jpg?w=200&f=webp");
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
  EXPECT_EQ(head.header("content-length"), std::to_string(full.body.size()));
  EXPECT_EQ(head.header("etag"), full.header("etag"));
  EXPECT_EQ(head.header("content-type"), "image/webp");
  auto head_original = service().head("/landscape.jpg");
  EXPECT_EQ(head_original.status, 200);
  EXPECT_TRUE(head_original.body.empty());
  EXPECT_EQ(head_original.header("content-length"), get("/landscape.jpg").header("content-length"));
}

// A HEAD needs the type and the size, not the bytes: a large original is not read whole
// (on S3 it was: the whole GET was spooled to answer a HEAD).
TEST_P(HttpApiTest, AHeadOfAnOriginalReadsOnlyItsFirstBytes) {
  const std::string heavy = make_heavy_jpeg(1600);  // noise: over a megabyte
  ASSERT_GT(heavy.size(), 1u << 20);
  service().put_original("heavy.jpg", heavy);
  const long read_before = service().stat("store_bytes_read");
  const auto head = service().head("/heavy.jpg");
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
  EXPECT_EQ(head.header("content-length"), std::to_string(heavy.size()));
  EXPECT_EQ(head.header("content-type"), "image/jpeg");
  EXPECT_LE(service().stat("store_bytes_read") - read_before, 64 * 1024) << "only the first bytes were read";
  const auto full = get("/heavy.jpg");
  EXPECT_EQ(full.body, heavy);
  EXPECT_EQ(head.header("etag"), full.header("etag"));
  EXPECT_EQ(head.header("last-modified"), full.header("last-modified"));
  // Revalidation of a HEAD still answers 304.
  EXPECT_EQ(service().head("/heavy.jpg", {"If-None-Match: " + full.header("etag")}).status, 304);
  // Not an image: refused from its first bytes, as a GET is.
  service().put_original("notes.jpg", std::string(4096, 'x'));
  EXPECT_EQ(service().head("/notes.jpg").status, 415);
}

TEST_P(HttpApiTest, ETagRevalidationGives304) {
  for (const char* path : {"/landscape.jpg?w=200&f=webp", "/landscape.jpg"}) {
    auto first = get(path);
    ASSERT_EQ(first.status, 200);
    const std::string etag = first.header("etag");
    ASSERT_FALSE(etag.empty());
    ASSERT_EQ(etag.front(), '"');
    auto again = get(path, {"If-None-Match: " + etag});
    EXPECT_EQ(again.status, 304) << path;
    EXPECT_TRUE(again.body.empty());
    EXPECT_EQ(again.header("etag"), etag);
    EXPECT_EQ(get(path, {"If-None-Match: \"other\", W/" + etag}).status, 304) << "lists and weak forms";
    EXPECT_EQ(get(path, {"If-None-Match: \"other\""}).status, 200);
  }
}

TEST_P(HttpApiTest, VariantHeadersAndCacheOutcome) {
  auto miss = get("/landscape.jpg?w=210&f=png");
  ASSERT_EQ(miss.status, 200);
  EXPECT_EQ(miss.header("x-cache").rfind("miss", 0), 0u);
  EXPECT_EQ(miss.header("cache-control"), "public, max-age=86400");
  EXPECT_TRUE(miss.has_header("last-modified"));
  EXPECT_EQ(miss.header("content-length"), std::to_string(miss.body.size()));
  auto hit = get("/landscape.jpg?w=210&f=png");
  EXPECT_EQ(hit.header("x-cache").rfind("hit", 0), 0u);
  EXPECT_EQ(hit.body, miss.body);
  EXPECT_EQ(hit.header("etag"), miss.header("etag"));
}

TEST_P(HttpApiTest, KeepAliveReusesTheConnection) {
  HttpClient client;
  auto first = client.get(service().server().url("/landscape.jpg?w=50&f=png"));
  auto second = client.get(service().server().url("/landscape.jpg"));
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(second.status, 200);
  EXPECT_EQ(first.new_connections, 1);
  EXPECT_EQ(second.new_connections, 0) << "the second request should reuse the kept-alive connection";
}

TEST_P(HttpApiTest, HealthStatsAndAccessLog) {
  auto health = get("/_imageflex/health");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");
  get("/landscape.jpg?w=64&f=png");
  auto stats = get("/_imageflex/stats");
  EXPECT_EQ(stats.header("content-type"), "application/json");
  EXPECT_EQ(service().stat("transforms"), 1);
  // One JSON access-log line per request, led by the environment.
  const std::string line =
      R"(\{"env":"dev","time":[0-9]+,"method":"GET","path":"/landscape.jpg\?w=64&f=png","status":200,"bytes":[0-9]+,)"
      R"("duration_ms":[0-9.]+,"cache":"miss"\})";
  EXPECT_TRUE(service().server().wait_for_output(line)) << service().server().output();
}

// libtiff warns on every read of warns.tiff's directory (an unknown tag): twenty variants
// of it made hundreds of identical log lines. The log shows it once, not once per read.
TEST_P(HttpApiTest, RepeatedLibraryWarningsAreLoggedOnce) {
  for (int width = 20; width < 40; ++width) {
    ASSERT_EQ(get("/warns.tiff?f=png&w=" + std::to_string(width)).status, 200) << width;
  }
  ASSERT_TRUE(service().server().wait_for_output(R"("path":"/warns.tiff\?f=png&w=39")"));
  const std::string output = service().server().output();
  int lines = 0;
  for (std::size_t at = output.find("(0x113)"); at != std::string::npos;
       at = output.find("(0x113)", at + 1)) {
    ++lines;
  }
  EXPECT_EQ(lines, 1) << output.substr(0, 2000);
}

class ConfiguredCacheControlTest : public ServiceTest {
 protected:
  std::vector<std::string> server_args() override {
    return {"--cache-control-variant", "public, max-age=60", "--cache-control-original", "no-cache"};
  }
};
IMAGEFLEX_ON_EVERY_BACKEND(ConfiguredCacheControlTest);

TEST_P(ConfiguredCacheControlTest, CacheControlIsConfigurable) {
  EXPECT_EQ(get("/landscape.jpg?w=20&f=png").header("cache-control"), "public, max-age=60");
  EXPECT_EQ(get("/landscape.jpg").header("cache-control"), "no-cache");
}

}  // namespace
}  // namespace imageflex::test
