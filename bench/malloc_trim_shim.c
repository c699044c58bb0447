/* The "glibc + malloc_trim every 2 s" row of BENCHMARKS.md ("The allocator, chosen by the memory
 * storm"): preloaded into a server built with -DIMAGEFLEX_JEMALLOC=OFF, a thread of its own hands
 * glibc's free memory back to the kernel every 2 s. A measuring aid, not part of the product:
 *
 *   gcc -O2 -shared -fPIC -o bench/out/malloc_trim_shim.so bench/malloc_trim_shim.c -lpthread
 *   MALLOC_ARENA_MAX=2 LD_PRELOAD=$PWD/bench/out/malloc_trim_shim.so \
 *     python3 bench/shield.py --only storm --build build-glibc -- --deadline-ms 600000
 */
#include <malloc.h>
#include <pthread.h>
#include <unistd.h>

static void* trim_forever(void* unused) {
  (void)unused;
  for (;;) {
    sleep(2);
    malloc_trim(0);
  }
  return 0;
}

__attribute__((constructor)) static void start_trimming(void) {
  pthread_t thread;
  if (pthread_create(&thread, 0, trim_forever, 0) == 0) pthread_detach(thread);
}
