// The folder store's housekeeper on a real folder, with byte-sized quotas.
#include "storage/fs_housekeeper.h"
#include "eventually.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "fixtures.h"
#include "storage/fs_storage.h"

namespace imageflex {
namespace {

namespace fs = std::filesystem;
using test::eventually;

std::uint64_t stat_of(const Storage& store, const std::string& name) {
  for (const auto& [key, value] : store.stats()) {
    if (key == name) return value;
  }
  return UINT64_MAX;
}

class FsHousekeeperTest : public ::testing::Test {
 protected:
  // The start-up scan runs beside the first requests; these tests begin after it.
  static void scanned(const Storage& store) {
    ASSERT_TRUE(eventually([&] { return stat_of(store, "store_sweeps") >= 1; }));
  }
  void TearDown() override { test::remove_tree(root_); }
  std::string root_ = test::make_temp_dir();
};

TEST_F(FsHousekeeperTest, EvictsTheLeastRecentlyUsedVariantsAndTheirEmptyFolders) {
  FsHousekeeping settings;
  settings.quota_bytes = 1000;
  FsStorage store(root_, settings);
  scanned(store);
  store.put("original.jpg", std::string(5000, 'o'), {});  // not a variant: never counted
  for (int i = 0; i < 4; ++i) {
    store.put("_imageflex/v2/a/" + std::to_string(i) + "/w=1", std::string(250, 'v'), {});
  }  // 1000 bytes: at the quota, not over it
  ASSERT_EQ(store.get("_imageflex/v2/a/0/w=1", {}).status, GetStatus::kOk);  // 0 is now the most recent
  store.put("_imageflex/v2/a/4/w=1", std::string(250, 'v'), {});             // 1250 bytes: over

  // Counted once the files are deleted; the index drops them as soon as they are chosen.
  ASSERT_TRUE(eventually([&] { return stat_of(store, "store_evictions") == 2; }));
  EXPECT_EQ(stat_of(store, "store_variant_bytes"), 750u) << "down to the low-water mark, 90%";
  EXPECT_FALSE(fs::exists(root_ + "/_imageflex/v2/a/1")) << "the emptied folder went too";
  EXPECT_FALSE(fs::exists(root_ + "/_imageflex/v2/a/2"));
  EXPECT_TRUE(fs::exists(root_ + "/_imageflex/v2/a/0/w=1"));
  EXPECT_TRUE(fs::exists(root_ + "/_imageflex/v2/a/3/w=1"));
  EXPECT_TRUE(fs::exists(root_ + "/_imageflex/v2/a/4/w=1"));
  EXPECT_TRUE(fs::exists(root_ + "/original.jpg"));
}

TEST_F(FsHousekeeperTest, AVariantAlreadyGoneOrRemovedIsNoError) {
  FsHousekeeping settings;
  settings.quota_bytes = 1000;
  FsStorage store(root_, settings);
  scanned(store);
  store.put("_imageflex/v2/gone", std::string(400, 'v'), {});
  store.put("_imageflex/v2/removed", std::string(400, 'v'), {});
  fs::remove(root_ + "/_imageflex/v2/gone");  // by another process sharing the folder
  store.remove("_imageflex/v2/removed");
  EXPECT_EQ(stat_of(store, "store_variant_bytes"), 400u) << "remove() is counted at once";
  store.put("_imageflex/v2/new", std::string(700, 'v'), {});
  ASSERT_TRUE(eventually([&] { return stat_of(store, "store_evictions") == 1; }));
  EXPECT_EQ(stat_of(store, "store_variant_bytes"), 700u);
  EXPECT_EQ(store.get("_imageflex/v2/new", {}).status, GetStatus::kOk);
}

TEST_F(FsHousekeeperTest, WithoutAQuotaNothingIsEvicted) {
  FsStorage store(root_, FsHousekeeping{});
  for (int i = 0; i < 20; ++i) store.put("_imageflex/v2/" + std::to_string(i), std::string(1000, 'v'), {});
  ASSERT_TRUE(eventually([&] { return stat_of(store, "store_sweeps") >= 1; }));
  EXPECT_EQ(stat_of(store, "store_evictions"), UINT64_MAX) << "no quota counters without a quota";
  EXPECT_EQ(std::distance(fs::directory_iterator(root_ + "/_imageflex/v2"), fs::directory_iterator()), 20);
}

}  // namespace
}  // namespace imageflex
