#include "common/allocator.h"

#include <fcntl.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string>

#ifdef IMAGEFLEX_JEMALLOC
#include <jemalloc/jemalloc.h>
#else
#include <malloc.h>
#endif

namespace imageflex {

#ifdef IMAGEFLEX_JEMALLOC
// jemalloc's compiled-in configuration for this program (MALLOC_CONF in the environment still
// overrides it, for an operator's experiment). Measured in BENCHMARKS.md ("Shield", "Page faults
// on a miss"):
// - narenas 1, dirty_decay_ms -1: one arena whose freed pages stay mapped until the process
//   asks for them back (release_free_memory: admission's watch does, once transforms go quiet,
//   every five seconds while they never do and more is kept than they were admitted for, and
//   whenever resident memory nears the budget). Transforms run on
//   whichever libvips worker thread is free, and with an arena per thread and a ten-second decay a page freed
//   in one arena was purged before that arena's next large block (a progressive JPEG's coefficients, zeroed
//   by libjpeg) needed it: 300 page faults per JPEG miss at two at a time, against 40 now, and
//   about a tenth of a miss's CPU on this VM. Hits, at 36k a second, measured no cost from sharing
//   the one arena (thread caches serve their small blocks);
// - background_thread off: with no decay, jemalloc's own thread would have nothing to purge;
// - muzzy_decay_ms 0: what is purged goes back at once with MADV_DONTNEED (RSS falls at once);
// - oversize_threshold 32 MiB (default 8): blocks over 32 MiB (an AVIF encoder's frames at
//   4000 px) come from an arena that gives them back on free (large_blocks_purged_on_free,
//   below), so a storm of large transforms does not leave them behind.
extern "C" {
// NOLINTNEXTLINE(cppcoreguidelines-avoid-non-const-global-variables): the name and type jemalloc reads
const char* malloc_conf =
    "narenas:1,background_thread:false,dirty_decay_ms:-1,muzzy_decay_ms:0,oversize_threshold:33554432";
}

namespace {

// The mallctl name of one arena's setting or action: "arena.<index>.<what>".
std::string arena_control(unsigned index, const char* what) {
  return "arena." + std::to_string(index) + "." + what;
}

template <typename T>
T read_option(const char* name, T fallback) {
  T value{};
  std::size_t size = sizeof(value);
  return mallctl(name, &value, &size, nullptr, 0) == 0 ? value : fallback;
}

// jemalloc's own extent hooks, unchanged, under a name of our own. jemalloc zeroes a recycled
// page run for calloc by purging it (madvise MADV_DONTNEED, so the kernel hands back zeroed
// pages) when its arena has the default hooks, and with memset under any other hooks. libvips
// callocs every region buffer of every job, so on a miss that purge ran about 100 times per
// image, each a TLB shoot-down across the cores and then page faults to refill: perf showed
// 40% of a JPEG miss's CPU in the kernel there (bench/README.md, "Where a miss's CPU goes").
// memset of memory just freed, still in cache, costs a fraction of that. Freed memory still
// goes back to the kernel on the decay above.
// NOLINTNEXTLINE(cppcoreguidelines-avoid-non-const-global-variables): jemalloc keeps this pointer
extent_hooks_t memset_zeroing_hooks;

bool install_memset_zeroing() {
  extent_hooks_t* defaults = nullptr;
  std::size_t size = sizeof(void*);  // jemalloc passes the hooks by pointer
  if (mallctl("arena.0.extent_hooks", static_cast<void*>(&defaults), &size, nullptr, 0) != 0 || !defaults)
    return false;
  memset_zeroing_hooks = *defaults;
  extent_hooks_t* ours = &memset_zeroing_hooks;
  // Every automatic arena (one not yet created is created with these hooks). The arena for
  // allocations over oversize_threshold is made later by jemalloc itself and keeps its defaults.
  const auto arenas = read_option<unsigned>("opt.narenas", 0);
  bool all = arenas > 0;
  for (unsigned i = 0; i < arenas; ++i) {
    all = mallctl(arena_control(i, "extent_hooks").c_str(), nullptr, nullptr, static_cast<void*>(&ours),
                  sizeof(void*)) == 0 &&
          all;
  }
  return all;
}

const bool kMemsetZeroing = install_memset_zeroing();

// jemalloc gives the arena for blocks over oversize_threshold a decay of 0 (purge on free)
// only when the default decay is above 0; with ours at -1 it would keep them too, and those
// blocks (an AVIF encoder's frames, each of a size of its own) piled up: a 10-minute soak of
// mixed misses grew to 10 GiB. That arena is made now, by one such block, and set to purge on
// free as jemalloc would.
bool large_blocks_purged_on_free() {
  const auto threshold = read_option<std::size_t>("opt.oversize_threshold", 0);
  if (threshold == 0) return false;
  void* block = std::malloc(threshold + 1);
  if (block == nullptr) return false;
  unsigned index = 0;
  std::size_t index_size = sizeof(index);
  bool done = mallctl("arenas.lookup", &index, &index_size, static_cast<void*>(&block), sizeof(block)) == 0;
  std::free(block);
  if (!done) return false;
  ssize_t zero = 0;
  for (const char* decay : {"dirty_decay_ms", "muzzy_decay_ms"}) {
    done = mallctl(arena_control(index, decay).c_str(), nullptr, nullptr, &zero, sizeof(zero)) == 0 && done;
  }
  // What the block left in the arena goes now, not at the next purge.
  mallctl(arena_control(index, "purge").c_str(), nullptr, nullptr, nullptr, 0);
  return done;
}

const bool kLargeBlocksPurgedOnFree = large_blocks_purged_on_free();

}  // namespace

AllocatorState allocator_state() {
  AllocatorState state;
  state.name = std::string("jemalloc ") + read_option<const char*>("version", "?");
  state.arenas = read_option<unsigned>("opt.narenas", 0);
  state.background_thread = read_option<bool>("background_thread", false);
  state.dirty_decay_ms = static_cast<long>(read_option<ssize_t>("opt.dirty_decay_ms", -1));
  state.muzzy_decay_ms = static_cast<long>(read_option<ssize_t>("opt.muzzy_decay_ms", -1));
  state.oversize_threshold_mib =
      static_cast<long>(read_option<std::size_t>("opt.oversize_threshold", 0) >> 20);
  state.calloc_by_memset = kMemsetZeroing;
  state.large_blocks_purged_on_free = kLargeBlocksPurgedOnFree;
  return state;
}

void release_free_memory() {
  // MALLCTL_ARENAS_ALL (4096): purge the unused dirty pages of every arena.
  mallctl("arena.4096.purge", nullptr, nullptr, nullptr, 0);
}

std::uint64_t free_memory_kept() {
  // jemalloc's statistics are a snapshot taken at the last "epoch" write: refresh it first.
  std::uint64_t epoch = 1;
  std::size_t size = sizeof(epoch);
  if (mallctl("epoch", &epoch, &size, &epoch, size) != 0) return 0;
  const auto pages = read_option<std::size_t>("stats.arenas.4096.pdirty", 0) +
                     read_option<std::size_t>("stats.arenas.4096.pmuzzy", 0);
  return static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}
#else
// Sanitizer builds: ASan brings its own allocator, so jemalloc is not linked (CMakeLists.txt).
AllocatorState allocator_state() {
  return {.name = "glibc"};
}

void release_free_memory() {}  // ASan's allocator keeps its own quarantine: nothing to ask
std::uint64_t free_memory_kept() {
  return 0;
}
#endif

std::size_t allocated_size(const void* block) {
  // jemalloc's and glibc's (and ASan's) malloc_usable_size: the block's size class.
  return block == nullptr ? 0 : malloc_usable_size(const_cast<void*>(block));
}

std::uint64_t resident_bytes() {
  // statm: size, resident, ... in pages. Held open and read again from its start: one system
  // call, where open, read and close were four; the admission watch asks 20 times a second
  // while jobs run.
  static const int statm = ::open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  char text[128];
  const ssize_t length = statm < 0 ? -1 : ::pread(statm, text, sizeof text - 1, 0);
  if (length <= 0) return 0;
  text[length] = '\0';
  unsigned long long size = 0;
  unsigned long long resident = 0;
  if (std::sscanf(text, "%llu %llu", &size, &resident) != 2) return 0;
  return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

std::string describe_allocator() {
  AllocatorState state = allocator_state();
  std::string text = state.name.substr(0, state.name.find('-'));
  if (state.name.starts_with("jemalloc")) {
    text += " (" + std::to_string(state.arenas) + (state.arenas == 1 ? " arena, " : " arenas, ") +
            (state.background_thread ? "background_thread, " : "") + "dirty_decay_ms " +
            std::to_string(state.dirty_decay_ms) + ", muzzy_decay_ms " +
            std::to_string(state.muzzy_decay_ms) + ", oversize_threshold " +
            std::to_string(state.oversize_threshold_mib) + " MiB" +
            (state.large_blocks_purged_on_free ? " purged on free" : "") +
            (state.calloc_by_memset ? ", calloc by memset" : "") + ")";
  }
  return text;
}

}  // namespace imageflex
