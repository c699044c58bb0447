#include "common/allocator.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace imageflex {
namespace {

// The settings the benchmarks chose are the ones in force: jemalloc, one arena, freed pages
// kept until the process hands them back (admission's watch), only blocks over 32 MiB purged
// on free. With an arena per thread and a decay, misses faulted their pages in again
// (BENCHMARKS.md, "Page faults on a miss"); the hand-back keeps RSS from staying hundreds of
// MB above its start after a storm of large transforms (admission_test, BENCHMARKS.md "Shield").
TEST(AllocatorTest, JemallocKeepsFreedPagesInOneArenaUntilHandedBack) {
  AllocatorState state = allocator_state();
#ifdef IMAGEFLEX_JEMALLOC_TESTS
  if (std::getenv("MALLOC_CONF") != nullptr) GTEST_SKIP() << "MALLOC_CONF overrides the compiled-in settings";
  EXPECT_EQ(state.name.rfind("jemalloc 5.", 0), 0U) << state.name;
  EXPECT_EQ(state.arenas, 1U);
  EXPECT_FALSE(state.background_thread);
  EXPECT_EQ(state.dirty_decay_ms, -1);
  EXPECT_EQ(state.muzzy_decay_ms, 0);
  EXPECT_EQ(state.oversize_threshold_mib, 32);
  EXPECT_TRUE(state.calloc_by_memset);
  EXPECT_TRUE(state.large_blocks_purged_on_free);
  EXPECT_EQ(
      describe_allocator(),
      "jemalloc 5.3.0 (1 arena, dirty_decay_ms -1, muzzy_decay_ms 0, oversize_threshold 32 MiB purged on "
      "free, calloc by memset)");
#else
  EXPECT_EQ(state.name, "glibc") << "a sanitizer build keeps ASan's allocator";
  EXPECT_EQ(describe_allocator(), "glibc");
#endif
}

// A block over oversize_threshold (an AVIF encoder's frame) goes back to the kernel as it is
// freed, not kept with the arena's other freed pages: kept, blocks of every size a random
// width makes piled up to 10 GiB in a 10-minute soak (BENCHMARKS.md, "Page faults on a miss").
TEST(AllocatorTest, ALargeBlockGoesBackToTheKernelWhenFreed) {
#ifdef IMAGEFLEX_JEMALLOC_TESTS
  if (std::getenv("MALLOC_CONF") != nullptr) GTEST_SKIP() << "MALLOC_CONF overrides the compiled-in settings";
  constexpr std::size_t kBlock = std::size_t{96} << 20;
  const std::uint64_t before = resident_bytes();
  auto* block = static_cast<unsigned char*>(std::malloc(kBlock));
  ASSERT_NE(block, nullptr);
  std::memset(block, 0x5A, kBlock);
  const std::uint64_t touched = resident_bytes();
  EXPECT_GE(touched, before + kBlock - (std::size_t{8} << 20));
  std::free(block);
  EXPECT_LE(resident_bytes(), touched - kBlock + (std::size_t{16} << 20)) << "the block's pages were kept";
#else
  GTEST_SKIP() << "ASan's allocator keeps freed memory in its quarantine";
#endif
}

// What admission's watch weighs against the jobs' need: freed blocks under the threshold are
// counted as kept until they are handed back, and no longer after.
TEST(AllocatorTest, FreedMemoryKeptIsCountedUntilHandedBack) {
#ifdef IMAGEFLEX_JEMALLOC_TESTS
  if (std::getenv("MALLOC_CONF") != nullptr) GTEST_SKIP() << "MALLOC_CONF overrides the compiled-in settings";
  release_free_memory();
  const std::uint64_t before = free_memory_kept();
  constexpr std::size_t kBlock = std::size_t{3} << 20;
  std::vector<void*> blocks;
  for (int i = 0; i < 8; ++i) blocks.push_back(std::malloc(kBlock));
  for (void* block : blocks) std::free(block);
  EXPECT_GE(free_memory_kept(), before + 8 * kBlock - (std::size_t{2} << 20));
  release_free_memory();
  EXPECT_LT(free_memory_kept(), std::uint64_t{2} << 20);
#else
  EXPECT_EQ(free_memory_kept(), 0U) << "ASan's allocator cannot tell";
#endif
}

// With our extent hooks jemalloc zeroes reused memory by memset: calloc still gives zeros,
// for blocks of a region buffer's size and for huge ones, after the memory held other bytes.
TEST(AllocatorTest, CallocOfReusedMemoryIsZero) {
  for (std::size_t size : {std::size_t{64} << 10, std::size_t{3} << 20, std::size_t{20} << 20}) {
    for (int round = 0; round < 3; ++round) {
      auto* dirty = static_cast<unsigned char*>(std::malloc(size));
      ASSERT_NE(dirty, nullptr);
      std::memset(dirty, 0xAB, size);
      std::free(dirty);
      auto* zeroed = static_cast<unsigned char*>(std::calloc(size, 1));
      ASSERT_NE(zeroed, nullptr);
      std::size_t nonzero = 0;
      for (std::size_t i = 0; i < size; ++i) nonzero += zeroed[i] != 0;
      EXPECT_EQ(nonzero, 0U) << size << " bytes, round " << round;
      std::free(zeroed);
    }
  }
}

}  // namespace
}  // namespace imageflex
