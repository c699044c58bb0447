// An invariant that must hold for every fuzz input: when it does not, the input is a
// finding, so the process aborts and libFuzzer saves the input as a crash.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <exception>

#include "common/error.h"

#define FUZZ_CHECK(condition)                                                                \
  do {                                                                                       \
    if (!(condition)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (false)

namespace imageflex::fuzz {

// Runs `body`; an imageflex::Error is an accepted outcome (the service answers it with
// its status), anything else escaping is a finding. Returns whether body completed.
template <typename Body>
bool only_error_escapes(Body&& body) {
  try {
    body();
    return true;
  } catch (const Error&) {
    return false;
  } catch (const std::exception& other) {
    std::fprintf(stderr, "a non-Error exception escaped: %s\n", other.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "an unknown exception escaped\n");
    std::abort();
  }
}

}  // namespace imageflex::fuzz
