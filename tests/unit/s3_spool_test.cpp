// S3Storage honouring GetOptions::open_above: a large GET is written, as it arrives, to an
// unnamed file in the spool folder and handed back open; the bytes read from it are the
// response's, exactly. A body cut short, an If-Match that fails or a folder that cannot
// take a file leave no file and no descriptor behind, and fail as the store's errors do.
// Against the scripted responder (a real server cannot be made to cut a body); the real
// Swift S3 is in tests/integration/large_bodies_test.cpp.
#include <dirent.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <random>
#include <stdexcept>
#include <string>

#include "common/error.h"
#include "fixtures.h"
#include "scripted_server.h"
#include "storage/s3_storage.h"

namespace imageflex {
namespace {

using test::cut_short;
using test::ok;
using test::s3_error;
using test::ScriptedServer;

constexpr std::size_t kLarge = std::size_t{300} << 10;  // past the 64 KiB read into memory regardless

std::string noise(std::size_t size) {
  std::mt19937 random(7);
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(random());
  return bytes;
}

// A fresh spool folder per test, so what is (or was) in it is this test's.
class S3SpoolTest : public ::testing::Test {
 protected:
  void TearDown() override { test::remove_tree(spool_); }

  S3Storage storage_for(const ScriptedServer& server) {
    S3Config config;
    config.bucket = "photos";
    config.endpoint = server.endpoint();
    config.total_timeout_ms = 5000;
    config.max_retries = 2;
    config.spool_dir = spool_;
    return S3Storage(config, static_credentials({"AKIDSPOOLTEST", "spool-secret", ""}));
  }

  // Names in the spool folder: always none, as spool files are unnamed.
  int names_in_spool() const {
    int names = 0;
    DIR* dir = ::opendir(spool_.c_str());
    for (dirent* entry = dir ? ::readdir(dir) : nullptr; entry; entry = ::readdir(dir)) {
      names += std::string(entry->d_name) != "." && std::string(entry->d_name) != "..";
    }
    if (dir) ::closedir(dir);
    return names;
  }

  // This process's descriptors open on a file of the spool folder.
  int open_spool_files() const {
    int open = 0;
    DIR* dir = ::opendir("/proc/self/fd");
    for (dirent* entry = ::readdir(dir); entry; entry = ::readdir(dir)) {
      char target[4096];
      const std::string link = std::string("/proc/self/fd/") + entry->d_name;
      const ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
      open += n > 0 && std::string(target, static_cast<std::size_t>(n)).rfind(spool_ + "/", 0) == 0;
    }
    ::closedir(dir);
    return open;
  }

  std::string spool_ = test::make_temp_dir();
};

GetOptions open_above(std::uint64_t bytes) {
  GetOptions options;
  options.open_above = bytes;
  return options;
}

TEST_F(S3SpoolTest, ALargeObjectComesBackOpenWithExactlyItsBytes) {
  const std::string body = noise(kLarge);
  ScriptedServer server({ok(body, {{"ETag", "\"v1\""}, {"Content-Type", "image/jpeg"}})});
  S3Storage storage = storage_for(server);
  GetResult got = storage.get("big.jpg", open_above(0));
  ASSERT_EQ(got.status, GetStatus::kOk);
  ASSERT_TRUE(got.object.opened);
  EXPECT_TRUE(got.object.bytes.empty()) << "not in memory as well";
  EXPECT_EQ(got.object.info.etag, "v1");
  EXPECT_EQ(got.object.info.size, body.size());
  EXPECT_EQ(got.object.info.content_type, "image/jpeg");
  EXPECT_EQ(got.object.opened->size(), body.size());
  std::string read(body.size(), '\0');
  EXPECT_EQ(got.object.opened->read(0, read.data(), read.size()), body.size());
  EXPECT_TRUE(read == body) << "the bytes S3 sent, exactly";
  EXPECT_EQ(storage.bytes_read(), body.size());
  EXPECT_EQ(names_in_spool(), 0) << "spool files have no name";
  EXPECT_EQ(open_spool_files(), 1);
  got.object.opened.reset();
  EXPECT_EQ(open_spool_files(), 0) << "the file goes with the last reader";
}

// Clients of one version share one spool file while any of them reads it: S3 is asked
// whether the object is still that version (If-None-Match, a 304 without a body), so disk
// grows with the objects being sent, not with their clients.
TEST_F(S3SpoolTest, AVersionStillBeingSentIsSharedOnceS3ConfirmsIt) {
  const std::string one = noise(kLarge);
  const std::string two = noise(kLarge + 1);
  ScriptedServer server({ok(one, {{"ETag", "\"v1\""}}), test::status_only(304), ok(two, {{"ETag", "\"v2\""}}),
                         ok(two, {{"ETag", "\"v2\""}}), ok(two, {{"ETag", "\"v2\""}})});
  S3Storage storage = storage_for(server);
  GetResult first = storage.get("big.jpg", open_above(0));
  GetResult shared = storage.get("big.jpg", open_above(0));
  ASSERT_EQ(shared.status, GetStatus::kOk);
  EXPECT_EQ(server.requests().at(1).header("if-none-match"), "\"v1\"");
  EXPECT_EQ(shared.object.opened, first.object.opened) << "the same file";
  EXPECT_EQ(shared.object.info.etag, "v1");
  EXPECT_EQ(shared.object.info.size, one.size());
  EXPECT_EQ(open_spool_files(), 1);

  // Replaced meanwhile: S3 sends the new version, spooled apart; the old one's readers keep theirs.
  GetResult replaced = storage.get("big.jpg", open_above(0));
  ASSERT_TRUE(replaced.object.opened);
  EXPECT_NE(replaced.object.opened, first.object.opened);
  EXPECT_EQ(replaced.object.info.etag, "v2");
  EXPECT_EQ(replaced.object.opened->size(), two.size());
  EXPECT_EQ(open_spool_files(), 2);

  // A caller's own If-None-Match is sent as it is, never replaced by the spool's.
  GetOptions revalidate = open_above(0);
  revalidate.if_none_match = "v0";
  storage.get("big.jpg", revalidate);
  EXPECT_EQ(server.requests().at(3).header("if-none-match"), "\"v0\"");

  // Once no response reads a spool, the next read downloads again, unconditionally.
  first = {};
  shared = {};
  replaced = {};
  storage.get("big.jpg", open_above(0));
  EXPECT_EQ(server.requests().at(4).header("if-none-match"), "<absent>");
}

TEST_F(S3SpoolTest, SmallObjectsAndReadsThatAskNoneStayInMemory) {
  ScriptedServer server({ok(noise(1000)), ok(noise(kLarge)), ok(noise(kLarge))});
  S3Storage storage = storage_for(server);
  // Under one piece of a streamed response: memory costs no more, and needs no descriptor.
  const GetResult small = storage.get("small.jpg", open_above(0));
  EXPECT_FALSE(small.object.opened);
  EXPECT_EQ(small.object.bytes.size(), 1000u);
  // At or under the caller's threshold, and without one: whole, as before.
  EXPECT_FALSE(storage.get("big.jpg", open_above(kLarge)).object.opened);
  const GetResult whole = storage.get("big.jpg", {});
  EXPECT_FALSE(whole.object.opened);
  EXPECT_EQ(whole.object.bytes.size(), kLarge);
}

TEST_F(S3SpoolTest, ABodyCutShortIsRetriedFromTheStart) {
  const std::string body = noise(kLarge);
  ScriptedServer server({cut_short(body, kLarge / 2), ok(body, {{"ETag", "\"v1\""}})});
  S3Storage storage = storage_for(server);
  GetResult got = storage.get("big.jpg", open_above(0));
  ASSERT_EQ(got.status, GetStatus::kOk);
  ASSERT_TRUE(got.object.opened);
  ASSERT_EQ(got.object.opened->size(), body.size());
  std::string read(body.size(), '\0');
  got.object.opened->read(0, read.data(), read.size());
  EXPECT_TRUE(read == body) << "the second answer alone, not the first one's half before it";
  EXPECT_EQ(open_spool_files(), 1) << "the cut attempt's file is gone";
}

TEST_F(S3SpoolTest, ABodyAlwaysCutShortIsUnavailableAndLeavesNothing) {
  const std::string body = noise(kLarge);
  ScriptedServer server({cut_short(body, 1000), cut_short(body, kLarge / 2), cut_short(body, kLarge - 1)});
  S3Storage storage = storage_for(server);
  try {
    storage.get("big.jpg", open_above(0));
    ADD_FAILURE() << "a cut body was accepted";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kStoreUnavailable) << error.what();
  }
  EXPECT_EQ(server.requests().size(), 3u) << "tried three times";
  EXPECT_EQ(open_spool_files(), 0);
  EXPECT_EQ(names_in_spool(), 0);
}

// The version asked for is the version read: S3 checks If-Match against the object it
// sends, and a mismatch moves no body.
TEST_F(S3SpoolTest, AFailedIfMatchLeavesNothing) {
  ScriptedServer server({s3_error(412, "PreconditionFailed")});
  S3Storage storage = storage_for(server);
  GetOptions options = open_above(0);
  options.if_match = "v1";
  EXPECT_EQ(storage.get("big.jpg", options).status, GetStatus::kPreconditionFailed);
  EXPECT_EQ(server.requests().at(0).header("if-match"), "\"v1\"");
  EXPECT_EQ(open_spool_files(), 0);
}

// The byte limit is judged before a byte is spooled.
TEST_F(S3SpoolTest, AnObjectOverTheByteLimitIsTooLargeWithoutAFile) {
  ScriptedServer server({ok(noise(kLarge))});
  S3Storage storage = storage_for(server);
  GetOptions options = open_above(0);
  options.max_bytes = kLarge - 1;
  EXPECT_EQ(storage.get("big.jpg", options).status, GetStatus::kTooLarge);
  EXPECT_EQ(open_spool_files(), 0);
}

TEST_F(S3SpoolTest, ASpoolFolderThatCannotTakeAFileStopsTheStart) {
  ScriptedServer server({});
  spool_ += "/missing";
  try {
    storage_for(server);
    ADD_FAILURE() << "a missing spool folder was accepted";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("s3-spool-dir"), std::string::npos) << error.what();
  }
  spool_.resize(spool_.size() - std::string("/missing").size());
}

}  // namespace
}  // namespace imageflex
