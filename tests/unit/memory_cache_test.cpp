#include "cache/memory_cache.h"

#include <gtest/gtest.h>

namespace imageflex {
namespace {

std::shared_ptr<const CachedVariant> variant_of(std::size_t bytes) {
  return std::make_shared<CachedVariant>(CachedVariant{std::string(bytes, 'x'), "image/png", "\"e\"", 0});
}

TEST(MemoryCacheTest, EvictsLeastRecentlyUsedWithinCapacity) {
  MemoryCache cache(8000);
  cache.put("a", variant_of(900));
  cache.put("b", variant_of(900));
  ASSERT_NE(cache.get("a"), nullptr);  // a is now the most recent
  for (int i = 0; i < 7; ++i) cache.put("fill" + std::to_string(i), variant_of(900));
  EXPECT_NE(cache.get("a"), nullptr) << "recently used entries survive longer";
  EXPECT_EQ(cache.get("b"), nullptr);
  EXPECT_LE(cache.size_bytes(), 8000u);
}

TEST(MemoryCacheTest, OneHugeEntryDoesNotFlushTheCache) {
  MemoryCache cache(8000);
  cache.put("small", variant_of(100));
  cache.put("huge", variant_of(5000));
  EXPECT_EQ(cache.get("huge"), nullptr);
  EXPECT_NE(cache.get("small"), nullptr);
}

TEST(MemoryCacheTest, ZeroCapacityKeepsNothing) {
  MemoryCache cache(0);
  cache.put("a", variant_of(1));
  EXPECT_EQ(cache.get("a"), nullptr);
}

}  // namespace
}  // namespace imageflex
