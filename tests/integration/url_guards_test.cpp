// The cost guards through the real server: signed URLs (and `imageflex sign`, and the
// other-language recipes in docs/operations.md), allowed sizes, and the bound they put
// on how many variants one original can leave in the store.
#include <ctime>
#include <filesystem>
#include <regex>

#include "integration.h"
#include "request/url_guards.h"

namespace imageflex::test {
namespace {

const std::string kKeyA = "first-signing-key-0123456789abcdef";
const std::string kKeyB = "second-signing-key-0123456789abcdef";

// `imageflex sign TARGET [ARGS]` with IF_SIGN_KEYS = `keys`: the signed target.
std::string imageflex_sign(const std::string& target, const std::string& keys,
                           const std::vector<std::string>& args = {}) {
  std::vector<std::string> argv = {imageflex_binary(), "sign", target};
  argv.insert(argv.end(), args.begin(), args.end());
  auto result = run_command(argv, {{"IF_SIGN_KEYS", keys}});
  EXPECT_EQ(result.status, 0) << result.output;
  while (!result.output.empty() && result.output.back() == '\n') result.output.pop_back();
  return result.output;
}

// Variant files the folder store holds (the temporary names of writes in progress aside).
int stored_variants(const ServiceUnderTest& service) {
  const std::filesystem::path dir = std::filesystem::path(service.root()) / "_imageflex";
  if (!std::filesystem::exists(dir)) return 0;
  int count = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().filename().string().rfind(".tmp", 0) != 0) ++count;
  }
  return count;
}

// About 30 widths from 1 to 500, on and around every step of 100.
std::vector<int> sample_widths() {
  std::vector<int> widths = {1,   2,   7,   33,  64,  99,  100, 101, 150, 199, 200, 201, 250, 299, 300,
                             301, 333, 350, 399, 400, 401, 420, 450, 480, 499, 500, 17,  123, 256, 321};
  return widths;
}

// Formats and qualities asked beside each width: every pair may be its own variant.
const std::vector<std::string> kFormatQualities = {"f=webp", "f=jpeg", "f=png", "f=jpeg&q=60"};

// Asks for every sampled width in every format and quality; all must be served.
void ask_all_widths(ServiceUnderTest& service) {
  for (int width : sample_widths()) {
    for (const auto& format : kFormatQualities) {
      const auto response = service.get("/landscape.jpg?w=" + std::to_string(width) + "&" + format);
      ASSERT_EQ(response.status, 200) << width << " " << format << ": " << response.body.substr(0, 100);
    }
  }
}

TEST(UrlGuardsServerTest, SignedUrlsAreServedAndNothingElse) {
  ServiceUnderTest service(Backend::kFilesystem, {}, {{"IF_SIGN_KEYS", kKeyA + "," + kKeyB}});
  const std::string signed_target = imageflex_sign("/landscape.jpg?w=160&f=webp", kKeyA);
  ASSERT_EQ(signed_target.rfind("/landscape.jpg?w=160&f=webp&s=", 0), 0u) << signed_target;
  expect_image(service.get(signed_target), "webpload", 160, 120);

  const auto unsigned_response = service.get("/landscape.jpg?w=160&f=webp");
  EXPECT_EQ(unsigned_response.status, 403);
  EXPECT_EQ(unsigned_response.body, "signature required (s=)\n");
  EXPECT_EQ(unsigned_response.header("cache-control"), "no-store");
  const std::string tampered = std::regex_replace(signed_target, std::regex("w=160"), "w=170");
  EXPECT_EQ(service.get(tampered).status, 403);
  EXPECT_EQ(service.get(tampered).body, "bad signature\n");
  // Originals need one too (sign-originals defaults to true with keys).
  EXPECT_EQ(service.get("/landscape.jpg").status, 403);
  const auto original = service.get(imageflex_sign("/landscape.jpg", kKeyA));
  EXPECT_EQ(original.status, 200);
  EXPECT_EQ(original.body, fixture("landscape.jpg"));
  // Health and stats need none.
  EXPECT_EQ(service.get("/_imageflex/health").status, 200);
  EXPECT_EQ(service.get("/_imageflex/stats").status, 200);
  EXPECT_EQ(service.stat("transforms"), 1) << "refusals make nothing";
}

TEST(UrlGuardsServerTest, KeysRotateAndResignedUrlsShareOneVariant) {
  ServiceUnderTest service(Backend::kFilesystem, {}, {{"IF_SIGN_KEYS", kKeyB + "," + kKeyA}});
  // Signed with the old key (now second), with the new one, and with an expiry: one variant.
  const auto old_key = service.get(imageflex_sign("/landscape.jpg?w=120&f=png", kKeyA));
  expect_image(old_key, "pngload", 120, 90);
  const auto new_key = service.get(imageflex_sign("/landscape.jpg?f=png&w=120", kKeyB));
  const auto expiring =
      service.get(imageflex_sign("/landscape.jpg?w=120&f=png", kKeyB, {"--expires-in", "3600"}));
  EXPECT_EQ(new_key.status, 200);
  EXPECT_EQ(expiring.status, 200);
  EXPECT_EQ(new_key.header("etag"), old_key.header("etag"));
  EXPECT_EQ(expiring.header("etag"), old_key.header("etag"));
  EXPECT_EQ(service.stat("transforms"), 1);
  EXPECT_EQ(stored_variants(service), 1) << "s and exp are not in the variant key";
  // A key no longer listed does not verify.
  EXPECT_EQ(
      service.get(imageflex_sign("/landscape.jpg?w=120&f=png", "a-retired-key-0123456789abcdefghij")).status,
      403);
}

TEST(UrlGuardsServerTest, AnExpiredUrlIsRefused) {
  ServiceUnderTest service(Backend::kFilesystem, {}, {{"IF_SIGN_KEYS", kKeyA}});
  const std::int64_t now = std::time(nullptr);
  const auto expired = service.get(sign_target("/landscape.jpg?w=50", kKeyA, now - 10, 8192));
  EXPECT_EQ(expired.status, 403);
  EXPECT_EQ(expired.body, "signature expired\n");
  EXPECT_EQ(service.get(sign_target("/landscape.jpg?w=50", kKeyA, now + 600, 8192)).status, 200);
  const std::string later = imageflex_sign("/landscape.jpg?w=50", kKeyA, {"--expires-in", "600"});
  EXPECT_NE(later.find("&exp="), std::string::npos) << later;
  EXPECT_EQ(service.get(later).status, 200);
}

TEST(UrlGuardsServerTest, OriginalsCanBeLeftOpen) {
  ServiceUnderTest service(Backend::kFilesystem, {"--sign-originals", "false"}, {{"IF_SIGN_KEYS", kKeyA}});
  EXPECT_EQ(service.get("/landscape.jpg").status, 200);
  EXPECT_EQ(service.get("/landscape.jpg?w=10").status, 403);
}

TEST(UrlGuardsServerTest, SignRefusesWhatItCannotSign) {
  const auto no_key = run_command({imageflex_binary(), "sign", "/a.jpg?w=1"});
  EXPECT_NE(no_key.status, 0);
  EXPECT_NE(no_key.output.find("IF_SIGN_KEYS"), std::string::npos) << no_key.output;
  const auto short_key = run_command({imageflex_binary(), "sign", "/a.jpg?w=1"}, {{"IF_SIGN_KEYS", "short"}});
  EXPECT_NE(short_key.status, 0);
  EXPECT_NE(short_key.output.find("sign-keys"), std::string::npos) << short_key.output;
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"/a.jpg?w=huge"}, {"/a.jpg?w=1&s=x"}, {"a.jpg"}, {"/a.jpg", "--expires-in", "-5"}}) {
    std::vector<std::string> argv = {imageflex_binary(), "sign"};
    argv.insert(argv.end(), args.begin(), args.end());
    EXPECT_NE(run_command(argv, {{"IF_SIGN_KEYS", kKeyA}}).status, 0) << args.front();
  }
}

// The recipes in docs/operations.md, run as they are printed, sign as `imageflex sign` does
// and as the server verifies.
TEST(UrlGuardsServerTest, TheDocumentedRecipesSignAsTheServiceDoes) {
  const std::string doc = read_file(source_dir() + "/docs/operations.md");
  const auto section = doc.find("### Signing from other languages");
  ASSERT_NE(section, std::string::npos);
  const std::string dir = make_temp_dir();
  const struct {
    std::string fence;
    std::string runner;
  } recipes[] = {{"```sh\n", "bash"}, {"```python\n", "python3"}, {"```js\n", "node"}};
  std::vector<std::pair<std::string, std::string>> scripts;  // runner, file
  for (const auto& recipe : recipes) {
    const auto start = doc.find(recipe.fence, section);
    ASSERT_NE(start, std::string::npos) << recipe.fence;
    const auto body = start + recipe.fence.size();
    const std::string file = dir + "/recipe-" + recipe.runner;
    write_file(file, doc.substr(body, doc.find("```", body) - body));
    scripts.emplace_back(recipe.runner, file);
  }

  ServiceUnderTest service(Backend::kFilesystem, {}, {{"IF_SIGN_KEYS", kKeyA}});
  const std::string expires = std::to_string(std::time(nullptr) + 600);
  const std::vector<std::string> targets = {"/landscape.jpg?w=64&h=64&fit=contain&f=png", "/landscape.jpg",
                                            "/landscape.jpg?w=40&exp=" + expires};
  for (const auto& target : targets) {
    const std::string expected =
        target.find("exp=") == std::string::npos
            ? imageflex_sign(target, kKeyA)
            : sign_target(target.substr(0, target.find("&exp=")), kKeyA, std::stoll(expires), 8192);
    for (const auto& [runner, file] : scripts) {
      auto result = run_command({"/usr/bin/env", runner, file, target, kKeyA});
      ASSERT_EQ(result.status, 0) << runner << ": " << result.output;
      EXPECT_EQ(result.output, expected + "\n") << runner << " on " << target;
      EXPECT_EQ(service.get(expected).status, 200) << target;
    }
  }
  remove_tree(dir);
}

TEST(UrlGuardsServerTest, SizesAreRoundedUpOrRefused) {
  {
    ServiceUnderTest service(Backend::kFilesystem,
                             {"--allowed-widths", "100,200,400", "--allowed-heights", "90"});
    expect_image(service.get("/landscape.jpg?w=150&f=png"), "pngload", 200, 150);
    expect_image(service.get("/landscape.jpg?w=5000&f=png"), "pngload", 400, 300);  // beyond: the largest
    expect_image(service.get("/landscape.jpg?h=10&f=png"), "pngload", 120, 90);
    expect_image(service.get("/landscape.jpg?w=200&f=png"), "pngload", 200, 150);
    EXPECT_EQ(service.get("/landscape.jpg?w=200&f=png").header("x-cache"), "hit-memory") << "150 made w=200";
  }
  {
    ServiceUnderTest service(Backend::kFilesystem,
                             {"--allowed-widths", "100,200,400", "--size-policy", "refuse"});
    const auto refused = service.get("/landscape.jpg?w=150");
    EXPECT_EQ(refused.status, 400);
    EXPECT_EQ(refused.body, "w must be one of 100, 200, 400\n");
    expect_image(service.get("/landscape.jpg?w=400&f=jpeg"), "jpegload", 400, 300);
  }
  {
    ServiceUnderTest service(Backend::kFilesystem, {},
                             {{"IF_SIZE_STEP", "50"}, {"IF_SIZE_POLICY", "refuse"}});
    EXPECT_EQ(service.get("/landscape.jpg?h=120").body, "h must be a multiple of 50\n");
    expect_image(service.get("/landscape.jpg?h=150&f=png"), "pngload", 200, 150);
  }
  {
    ServiceUnderTest service(Backend::kFilesystem, {}, {{"IF_SIZE_STEP", "50"}});
    expect_image(service.get("/landscape.jpg?h=101&f=png"), "pngload", 200, 150);
  }
}

// The bound on stored variants per original under each setting (issue 8): ~30 widths from 1
// to 500 in four format/quality pairs are 120 distinct requests, and would be 120 variants.
TEST(UrlGuardsServerTest, AllowedWidthsBoundTheStoredVariants) {
  ServiceUnderTest service(Backend::kFilesystem, {"--allowed-widths", "100,200,400"});
  ask_all_widths(service);
  const int bound = 3 * static_cast<int>(kFormatQualities.size());
  EXPECT_LE(stored_variants(service), bound);
  EXPECT_EQ(stored_variants(service), bound) << "the sample reaches every allowed width";
  EXPECT_EQ(service.stat("transforms"), bound);
}

TEST(UrlGuardsServerTest, ASizeStepBoundsTheStoredVariants) {
  ServiceUnderTest service(Backend::kFilesystem, {"--size-step", "100"});
  ask_all_widths(service);
  const int bound = (500 + 99) / 100 * static_cast<int>(kFormatQualities.size());  // ceil(max / step) each
  EXPECT_LE(stored_variants(service), bound);
  EXPECT_EQ(stored_variants(service), bound);
}

TEST(UrlGuardsServerTest, UnsignedRequestsLeaveNothing) {
  ServiceUnderTest service(Backend::kFilesystem, {}, {{"IF_SIGN_KEYS", kKeyA}});
  for (int width : sample_widths()) {
    for (const auto& format : kFormatQualities) {
      EXPECT_EQ(service.get("/landscape.jpg?w=" + std::to_string(width) + "&" + format).status, 403);
    }
  }
  EXPECT_EQ(service.get("/landscape.jpg?w=10&s=forged").status, 403);
  EXPECT_EQ(stored_variants(service), 0);
  EXPECT_EQ(service.stat("transforms"), 0);
  // And without guards the same requests would have left one variant each: the bound is real.
  ServiceUnderTest open(Backend::kFilesystem);
  for (int width : {33, 34, 35}) ASSERT_EQ(open.get("/landscape.jpg?w=" + std::to_string(width)).status, 200);
  EXPECT_EQ(stored_variants(open), 3);
}

}  // namespace
}  // namespace imageflex::test
