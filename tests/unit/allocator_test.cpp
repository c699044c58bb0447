#include "common/allocator.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace imageflex {
namespace {

// The settings the memory benchmark chose are the ones in force: jemalloc, purging on its own
// thread, freed pages returned about a second later. Without them RSS stays hundreds of MB
// above its start after a storm of large transforms (BENCHMARKS.md, "Shield").
TEST(AllocatorTest, JemallocReturnsFreedMemoryFromItsBackgroundThread) {
  AllocatorState state = allocator_state();
#ifdef IMAGEFLEX_JEMALLOC_TESTS
  if (std::getenv("MALLOC_CONF") != nullptr) GTEST_SKIP() << "MALLOC_CONF overrides the compiled-in settings";
  EXPECT_EQ(state.name.rfind("jemalloc 5.", 0), 0U) << state.name;
  EXPECT_TRUE(state.background_thread);
  EXPECT_EQ(state.dirty_decay_ms, 1000);
  EXPECT_EQ(state.muzzy_decay_ms, 0);
  EXPECT_EQ(describe_allocator(),
            "jemalloc 5.3.0 (background_thread, dirty_decay_ms 1000, muzzy_decay_ms 0)");
#else
  EXPECT_EQ(state.name, "glibc") << "a sanitizer build keeps ASan's allocator";
  EXPECT_EQ(describe_allocator(), "glibc");
#endif
}

}  // namespace
}  // namespace imageflex
