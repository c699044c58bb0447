// The derived-image store: variants written back under canonical keys, atomically,
// served after a restart; the root is a jail. A changed original: freshness_test.cpp.
#include <unistd.h>

#include <filesystem>

#include "integration.h"
#include "request/key.h"

namespace imageflex::test {
namespace {

class VariantStoreTest : public ServiceTest {
 protected:
  // The key the service must have stored the variant under.
  std::string key_for(const std::string& target, AcceptedFormats accepted = {}) {
    ImageRequest request = parse_request(target, 8192);
    auto original = service().store().stat(request.key);
    EXPECT_TRUE(original.has_value()) << target;
    return variant_key(request, original ? original->etag : "", accepted, Quality{});
  }
};
IMAGEFLEX_ON_EVERY_BACKEND(VariantStoreTest);

TEST_P(VariantStoreTest, VariantIsStoredAndServedAfterARestart) {
  auto made = get("/landscape.jpg?w=120&f=webp");
  ASSERT_EQ(made.status, 200);
  const std::string key = key_for("/landscape.jpg?w=120&f=webp");
  EXPECT_EQ(key.rfind("_imageflex/v4/landscape.jpg/", 0), 0u) << key;
  GetResult stored = service().store().get(key, {});
  ASSERT_EQ(stored.status, GetStatus::kOk);
  EXPECT_EQ(stored.object.bytes, made.body);
  EXPECT_EQ(stored.object.info.content_type, "image/webp");
  // What the variant was made from travels with it, so a changed original is detectable.
  EXPECT_EQ(stored.object.info.metadata["source-etag"], service().store().stat("landscape.jpg")->etag);

  service().restart();
  auto again = get("/landscape.jpg?w=120&f=webp");
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body, made.body);
  EXPECT_EQ(again.header("x-cache"), "hit-store");
  EXPECT_EQ(service().stat("transforms"), 0) << "a stored variant is not made again";
}

// Variant writes are not synced (fs_storage.cpp): a file a crash cut short after its
// rename must be no variant at all, so it is made again rather than served torn.
TEST_P(VariantStoreTest, ATruncatedVariantFileIsAMiss) {
  if (GetParam() != Backend::kFilesystem) GTEST_SKIP() << "S3 writes are atomic and whole";
  const auto made = get("/landscape.jpg?w=120&f=webp");
  ASSERT_EQ(made.status, 200);
  const std::string file = service().root() + "/" + key_for("/landscape.jpg?w=120&f=webp");
  ASSERT_EQ(std::filesystem::file_size(file), made.body.size());
  std::filesystem::resize_file(file, made.body.size() / 2);

  service().restart();  // nothing in memory: the store is asked
  auto again = get("/landscape.jpg?w=120&f=webp");
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(again.header("x-cache"), "miss");
  EXPECT_EQ(again.body, made.body);
  EXPECT_EQ(std::filesystem::file_size(file), made.body.size()) << "made again and stored whole";
}

TEST_P(VariantStoreTest, SameNameDifferentExtensionAreDifferentVariants) {
  service().put_original("photo.jpg", fixture("landscape.jpg"));
  service().put_original("photo.png", fixture("stripes.jpg"));
  auto jpg = get("/photo.jpg?w=300&f=png");
  auto png = get("/photo.png?w=300&f=png");
  expect_image(jpg, "pngload", 300, 225);
  expect_image(png, "pngload", 300, 100);
  EXPECT_NE(key_for("/photo.jpg?w=300&f=png"), key_for("/photo.png?w=300&f=png"));
}

TEST_P(VariantStoreTest, EachAcceptOutcomeIsItsOwnVariant) {
  auto avif = get("/landscape.jpg?w=80", {"Accept: image/avif,image/webp"});
  auto webp = get("/landscape.jpg?w=80", {"Accept: image/webp"});
  auto jpeg = get("/landscape.jpg?w=80", {"Accept: */*"});
  EXPECT_EQ(avif.header("content-type"), "image/avif");
  EXPECT_EQ(webp.header("content-type"), "image/webp");
  EXPECT_EQ(jpeg.header("content-type"), "image/jpeg");
  EXPECT_EQ(service().stat("transforms"), 3);
  EXPECT_NE(avif.header("etag"), webp.header("etag"));
  // Keys name the format served (request/normalise.h): the same as asking for it with f=.
  for (auto [format, type] :
       {std::pair{"avif", "image/avif"}, std::pair{"webp", "image/webp"}, std::pair{"jpeg", "image/jpeg"}}) {
    GetResult stored = service().store().get(key_for(std::string("/landscape.jpg?w=80&f=") + format), {});
    EXPECT_EQ(stored.status, GetStatus::kOk) << type;
    EXPECT_EQ(stored.object.info.content_type, type);
  }
  // Asking again with each Accept hits its own variant.
  EXPECT_EQ(get("/landscape.jpg?w=80", {"Accept: image/webp"}).header("content-type"), "image/webp");
  EXPECT_EQ(service().stat("transforms"), 3);
}

TEST_P(VariantStoreTest, TheReservedPrefixIsNotAnOriginal) {
  ASSERT_EQ(get("/landscape.jpg?w=60&f=png").status, 200);
  const std::string key = key_for("/landscape.jpg?w=60&f=png");
  EXPECT_EQ(get("/" + key).status, 404);
  EXPECT_EQ(get("/_imageflex/v1/landscape.jpg").status, 404);
  EXPECT_EQ(get("/_imageflex/anything?w=10").status, 404);
}

TEST_P(VariantStoreTest, PathsNeverLeaveTheStore) {
  const char* hostile[] = {
      "/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
      "/..%2f..%2fetc%2fpasswd", "/a/..%5c..%5cetc%5cpasswd", "/landscape.jpg%00.png",
      "/landscape.jpg%00",       "/%c0%ae%c0%ae/etc/passwd",  "//etc/passwd",
      "/./landscape.jpg",        "/landscape.jpg/..",         "/..",
  };
  for (const char* path : hostile) {
    for (const char* query : {"", "?w=10"}) {
      auto response = get(std::string(path) + query);
      EXPECT_TRUE(response.status == 400 || response.status == 404)
          << path << query << " → " << response.status;
      EXPECT_EQ(response.body.find("root:"), std::string::npos);
      EXPECT_EQ(response.body.find("/tmp"), std::string::npos) << "no internal paths in errors";
    }
  }
}

TEST_P(VariantStoreTest, AFailedRequestLeavesNothingInTheStore) {
  EXPECT_EQ(get("/truncated.jpg?w=100&f=png").status, 422);
  EXPECT_EQ(service().store().get(key_for("/truncated.jpg?w=100&f=png"), {}).status, GetStatus::kNotFound);
  if (GetParam() == Backend::kFilesystem) {
    EXPECT_FALSE(std::filesystem::exists(service().root() + "/_imageflex/v4/truncated.jpg"));
  }
}

// Filesystem only: symlinks that point out of the root are not followed.
class FilesystemJailTest : public ServiceTest {};
INSTANTIATE_TEST_SUITE_P(Backends, FilesystemJailTest, ::testing::Values(Backend::kFilesystem),
                         backend_label);

TEST_P(FilesystemJailTest, SymlinksOutOfTheRootAreNotFollowed) {
  const std::string outside = make_temp_dir();
  write_file(outside + "/secret.jpg", fixture("landscape.jpg"));
  ASSERT_EQ(::symlink((outside + "/secret.jpg").c_str(), (service().root() + "/link.jpg").c_str()), 0);
  ASSERT_EQ(::symlink(outside.c_str(), (service().root() + "/linkdir").c_str()), 0);
  ASSERT_EQ(::symlink("/etc/passwd", (service().root() + "/passwd.jpg").c_str()), 0);
  for (const char* path :
       {"/link.jpg", "/link.jpg?w=10", "/linkdir/secret.jpg", "/linkdir/secret.jpg?w=10", "/passwd.jpg"}) {
    EXPECT_EQ(get(path).status, 404) << path;
  }
  // A symlink that stays inside the root is fine.
  ASSERT_EQ(::symlink("landscape.jpg", (service().root() + "/inside.jpg").c_str()), 0);
  EXPECT_EQ(get("/inside.jpg?w=10&f=png").status, 200);
  remove_tree(outside);
}

TEST_P(FilesystemJailTest, NoTemporaryFilesAreLeftBehind) {
  for (int w = 10; w < 20; ++w) ASSERT_EQ(get("/landscape.jpg?f=png&w=" + std::to_string(w)).status, 200);
  get("/truncated.jpg?w=10");
  for (const auto& entry : std::filesystem::recursive_directory_iterator(service().root())) {
    EXPECT_EQ(entry.path().filename().string().rfind(".tmp-", 0), std::string::npos) << entry.path();
  }
}

}  // namespace
}  // namespace imageflex::test
