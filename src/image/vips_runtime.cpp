#include "image/vips_runtime.h"

#include "common/log.h"

#include <vips/vips8>

#include <chrono>
#include <mutex>
#include <stdexcept>

namespace imageflex {

void init_vips(const char* argv0) {
  static std::once_flag once;
  std::call_once(once, [argv0] {
    if (VIPS_INIT(argv0 ? argv0 : "imageflex") != 0) {
      throw std::runtime_error("libvips failed to start: " + std::string(vips_error_buffer()));
    }
    // libvips' warnings (e.g. "ignoring nclx profile"), and libtiff's, which libvips passes
    // on, join our JSON log on stderr; the same warning at most once a minute.
    g_log_set_handler(
        "VIPS", static_cast<GLogLevelFlags>(G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE),
        [](const gchar*, GLogLevelFlags, const gchar* message, gpointer) {
          static RepeatFilter repeats(std::chrono::minutes(1));
          if (auto line = repeats.admit(message ? message : "")) log_event("warn", "libvips: " + *line);
        },
        nullptr);
    vips_cache_set_max(0);
    vips_concurrency_set(1);
    vips_block_untrusted_set(TRUE);
    vips_operation_block_set("VipsForeignLoad", TRUE);
    for (const char* allowed : {"VipsForeignLoadJpeg", "VipsForeignLoadPng", "VipsForeignLoadWebp",
                                "VipsForeignLoadNsgif", "VipsForeignLoadHeif", "VipsForeignLoadTiff"}) {
      vips_operation_block_set(allowed, FALSE);
    }
  });
}

void end_vips_job() {
  vips_error_clear();
  vips_thread_shutdown();
}

std::uint64_t vips_memory_bytes() {
  return static_cast<std::uint64_t>(vips_tracked_get_mem());
}

}  // namespace imageflex
