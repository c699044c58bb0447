#include "storage/lru_index.h"

#include <gtest/gtest.h>

namespace imageflex {
namespace {

std::vector<std::string> keys_of(const std::vector<LruIndex::Victim>& victims) {
  std::vector<std::string> keys;
  for (const auto& victim : victims) keys.push_back(victim.key);
  return keys;
}

TEST(LruIndexTest, CountsBytesAndReplacedSizes) {
  LruIndex index;
  index.touch("a", 100, 1);
  index.touch("b", 50, 2);
  EXPECT_EQ(index.used_bytes(), 150u);
  index.touch("a", 30, 3);  // rewritten smaller
  EXPECT_EQ(index.used_bytes(), 80u);
  EXPECT_EQ(index.count(), 2u);
  index.forget("b");
  index.forget("never there");
  EXPECT_EQ(index.used_bytes(), 30u);
  EXPECT_FALSE(index.contains("b"));
}

TEST(LruIndexTest, TakesTheLeastRecentlyUsedDownToTheTarget) {
  LruIndex index;
  index.touch("old", 100, 10);
  index.touch("middle", 100, 20);
  index.touch("new", 100, 30);
  index.touch("old", 100, 40);  // served again: now the most recent
  auto victims = index.take_oldest(150);
  EXPECT_EQ(keys_of(victims), (std::vector<std::string>{"middle", "new"}));
  EXPECT_EQ(victims[0].size, 100u);
  EXPECT_EQ(index.used_bytes(), 100u);
  EXPECT_TRUE(index.contains("old"));
  EXPECT_TRUE(index.take_oldest(100).empty()) << "already within the target";
  EXPECT_EQ(keys_of(index.take_oldest(0)), (std::vector<std::string>{"old"}));
  EXPECT_EQ(index.used_bytes(), 0u);
}

TEST(LruIndexTest, ClockSteppingBackDoesNotAgeAnEntry) {
  LruIndex index;
  index.touch("a", 1, 100);
  index.touch("b", 1, 50);
  index.touch("a", 1, 10);  // an earlier time than it has: keeps 100
  EXPECT_EQ(keys_of(index.take_oldest(1)), (std::vector<std::string>{"b"}));
}

TEST(LruIndexTest, ScanAddsFilesInTheirOrderOfUse) {
  LruIndex index;
  index.touch("used-now", 10, 1000);
  // A scan finds files with their atimes, older than this process's uses.
  index.seen("from-scan-new", 10, 500, 1);
  index.seen("from-scan-old", 10, 100, 1);
  index.seen("used-now", 10, 200, 1);  // an older atime does not make it older here
  EXPECT_EQ(index.used_bytes(), 30u);
  EXPECT_EQ(keys_of(index.take_oldest(0)),
            (std::vector<std::string>{"from-scan-old", "from-scan-new", "used-now"}));
}

TEST(LruIndexTest, ScanTakesTheSizeOnDisk) {
  LruIndex index;
  index.touch("a", 10, 1);
  index.seen("a", 25, 1, 1);
  EXPECT_EQ(index.used_bytes(), 25u);
}

TEST(LruIndexTest, ScanDropsWhatIsGoneButNotWhatWasUsedDuringIt) {
  LruIndex index;
  index.seen("kept", 10, 100, 1);
  index.seen("deleted-by-another-process", 10, 100, 1);
  index.touch("written-before-the-scan-then-deleted", 10, 150);
  // Round 2 starts at 200; a put during it lands after its walk passed that folder.
  index.seen("kept", 10, 100, 2);
  index.touch("written-during-the-scan", 10, 250);
  EXPECT_EQ(index.drop_unseen(2, 200), 2u);
  EXPECT_TRUE(index.contains("kept"));
  EXPECT_TRUE(index.contains("written-during-the-scan"));
  EXPECT_FALSE(index.contains("deleted-by-another-process"));
  EXPECT_FALSE(index.contains("written-before-the-scan-then-deleted"));
  EXPECT_EQ(index.used_bytes(), 20u);
}

TEST(LruIndexTest, EqualTimesAreAllKept) {
  LruIndex index;
  for (int i = 0; i < 100; ++i) index.touch("k" + std::to_string(i), 1, 42);
  EXPECT_EQ(index.count(), 100u);
  EXPECT_EQ(index.take_oldest(0).size(), 100u);
  EXPECT_EQ(index.count(), 0u);
}

}  // namespace
}  // namespace imageflex
