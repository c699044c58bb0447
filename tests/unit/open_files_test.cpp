// The open-file cache on real files: a held descriptor is handed out only while it is still
// the file at its name and unchanged; the cache is bounded in count and in idle time.
#include "storage/open_files.h"

#include <fcntl.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "fixtures.h"

namespace imageflex {
namespace {

namespace fs = std::filesystem;
using std::chrono::hours;

class OpenFileCacheTest : public ::testing::Test {
 protected:
  void TearDown() override { test::remove_tree(root_); }

  std::string path(const std::string& name) const { return root_ + "/" + name; }

  // NAME's file opened now, as the folder store holds it.
  std::shared_ptr<const OpenFileCache::Held> open(const std::string& name) {
    UniqueFd fd{::open(path(name).c_str(), O_RDONLY | O_CLOEXEC)};
    EXPECT_TRUE(fd.valid()) << name;
    auto held = std::make_shared<OpenFileCache::Held>();
    EXPECT_EQ(::fstat(fd.get(), &held->opened), 0);
    held->info.size = static_cast<std::uint64_t>(held->opened.st_size);
    held->file = std::make_shared<const OpenFile>(std::move(fd), held->info.size);
    return held;
  }

  static std::string read_all(const OpenFileCache::Held& held) {
    std::string bytes(held.file->size(), '\0');
    bytes.resize(held.file->read(0, bytes.data(), bytes.size()));
    return bytes;
  }

  std::string root_ = test::make_temp_dir();
  struct stat now_ {};
};

TEST_F(OpenFileCacheTest, AHeldFileIsFoundWithItsFreshStat) {
  OpenFileCache cache(4, hours(1), {});
  test::write_file(path("a"), "alpha");
  cache.hold("a", open("a"));
  auto found = cache.find("a", now_);
  ASSERT_TRUE(found);
  EXPECT_EQ(read_all(*found), "alpha");
  EXPECT_EQ(now_.st_size, 5);
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_FALSE(cache.find("b", now_));
}

// Each way the name can stop meaning the held file: checked on every find (no recheck
// interval), the file is let go, never served.
TEST_F(OpenFileCacheTest, AFileThatChangedIsLetGo) {
  OpenFileCache cache(8, hours(1), {});
  for (const std::string name : {"removed", "renamed-over", "rewritten", "cut"}) {
    test::write_file(path(name), "the bytes first written");
    cache.hold(name, open(name));
  }
  fs::remove(path("removed"));
  test::write_file(path("new"), "other bytes of the same size");
  fs::rename(path("new"), path("renamed-over"));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));      // a later mtime, even on a coarse clock
  test::write_file(path("rewritten"), "THE BYTES FIRST WRITTEN");  // in place, same size
  fs::resize_file(path("cut"), 3);

  for (const std::string name : {"removed", "renamed-over", "rewritten", "cut"}) {
    EXPECT_FALSE(cache.find(name, now_)) << name << " was served from its old descriptor";
  }
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.hits(), 0u);
}

// With a recheck interval, a file is checked against its name once per interval: inside it
// a removed file is still found (the price), after it, it is let go.
TEST_F(OpenFileCacheTest, ARecheckIntervalChecksOncePerInterval) {
  OpenFileCache cache(4, hours(1), std::chrono::milliseconds(1));
  OpenFileCache trusting(4, hours(1), hours(1));
  test::write_file(path("a"), "alpha");
  cache.hold("a", open("a"));
  trusting.hold("a", open("a"));
  fs::remove(path("a"));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // past 1 ms, far inside an hour
  EXPECT_FALSE(cache.find("a", now_));
  auto found = trusting.find("a", now_);
  ASSERT_TRUE(found);
  EXPECT_EQ(now_.st_size, 5) << "the stat of the last check";
  EXPECT_EQ(read_all(*found), "alpha");
}

TEST_F(OpenFileCacheTest, AtCapacityTheLeastRecentlyUsedIsLetGo) {
  OpenFileCache cache(2, hours(1), {});
  for (const std::string name : {"a", "b", "c"}) test::write_file(path(name), name);
  cache.hold("a", open("a"));
  cache.hold("b", open("b"));
  ASSERT_TRUE(cache.find("a", now_));  // now b is the least recently used
  cache.hold("c", open("c"));
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_TRUE(cache.find("a", now_));
  EXPECT_FALSE(cache.find("b", now_));
  EXPECT_TRUE(cache.find("c", now_));
}

TEST_F(OpenFileCacheTest, ForgetAndIdleFilesAreLetGo) {
  OpenFileCache cache(4, std::chrono::milliseconds(1), {});
  test::write_file(path("a"), "a");
  test::write_file(path("b"), "b");
  cache.hold("a", open("a"));
  cache.forget("a");
  EXPECT_FALSE(cache.find("a", now_));
  cache.hold("b", open("b"));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // idle for longer than 1 ms
  EXPECT_FALSE(cache.find("b", now_));
  EXPECT_EQ(cache.size(), 0u);
}

// A response still reading a file the cache let go reads it to the end.
TEST_F(OpenFileCacheTest, AFileLetGoStaysReadableByItsReaders) {
  OpenFileCache cache(1, hours(1), {});
  test::write_file(path("a"), "alpha");
  test::write_file(path("b"), "beta");
  cache.hold("a", open("a"));
  auto reading = cache.find("a", now_);
  ASSERT_TRUE(reading);
  cache.hold("b", open("b"));  // pushes a out
  fs::remove(path("a"));
  EXPECT_EQ(read_all(*reading), "alpha");
}

}  // namespace
}  // namespace imageflex
