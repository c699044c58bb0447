// Names the calling thread (at most 15 characters), so that top -H, perf and
// /proc/PID/task/*/comm tell the I/O, handler, transform and helper threads apart.
#pragma once

#include <pthread.h>

namespace imageflex {

inline void name_this_thread(const char* name) {
  pthread_setname_np(pthread_self(), name);
}

}  // namespace imageflex
