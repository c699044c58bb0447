// The process's memory allocator, chosen by measurement (docs/operations.md, "Memory";
// BENCHMARKS.md, "Shield" and "Page faults on a miss"): jemalloc from Debian, one arena that
// keeps freed pages for the next transform, handed back to the kernel when transforms go quiet,
// every five seconds under load when it keeps more than the jobs need, or when resident memory
// nears the budget
// (release_free_memory, called by admission's watch).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace imageflex {

// The allocator the process runs on and the settings in force, as jemalloc read them (after
// the compiled-in defaults and any MALLOC_CONF in the environment).
struct AllocatorState {
  std::string name;                // "jemalloc 5.3.0-0-g54eaed1d8b56b1aa528be3bdd1877e59c56fa90c", or "glibc"
  unsigned arenas = 0;             // arenas for ordinary blocks (threads share them)
  bool background_thread = false;  // purging runs on jemalloc's own thread, not on request threads
  long dirty_decay_ms = -1;        // freed pages go back to the kernel after about this long (-1: when asked)
  long muzzy_decay_ms = -1;
  long oversize_threshold_mib = 0;           // larger allocations have an arena that purges on free (0: none)
  bool large_blocks_purged_on_free = false;  // blocks over oversize_threshold go back on free
  bool calloc_by_memset = false;  // calloc zeroes reused memory with memset, not a purge (allocator.cpp)
};

AllocatorState allocator_state();

// One line for the start-up log: "jemalloc 5.3.0 (background_thread, dirty_decay_ms 10000, ...)".
std::string describe_allocator();

// The bytes the allocator set aside for `block` (from malloc or operator new): its size
// rounded up to the allocator's size class, up to a quarter more for large blocks. 0 for null.
std::size_t allocated_size(const void* block);

// The process's resident memory now (/proc/self/statm), in bytes; 0 when unreadable.
std::uint64_t resident_bytes();

// Hands memory the allocator holds free back to the kernel now: admission calls it when
// transforms go quiet, every five seconds while they never do and it keeps more than they
// need, and when resident memory nears the budget or alone keeps a job waiting.
void release_free_memory();

// The bytes freed and kept by the allocator for reuse, not yet handed back (jemalloc's dirty
// and muzzy pages in every arena); 0 where the allocator cannot tell (sanitizer builds).
std::uint64_t free_memory_kept();

}  // namespace imageflex
