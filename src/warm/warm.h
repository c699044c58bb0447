// `imageflex warm`: makes variants ahead of traffic. Each variant is one GET through the
// server's own Handler (in process, no socket), so warm-up makes, names and stores
// exactly what a request would: the same parsing, signing, normalising, variant key,
// make_variant and atomic store write. What is stored already is a hit, so a rerun
// resumes where the last one stopped.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "common/config.h"
#include "storage/storage.h"

namespace imageflex {

struct WarmPlan {
  std::vector<std::string> keys;     // originals (store keys, no leading '/')
  std::vector<int> widths;           // empty: no w
  std::vector<std::string> formats;  // empty: no f (the original's format, as a browser without Accept gets)
  // Query fragments crossed with the keys, made by warm_variants(). Issue 11's presets
  // add theirs here (one fragment per preset), beside the widths × formats ones.
  std::vector<std::string> variants;
  int parallel = 0;  // requests at once; 0 = the worker count
};

// "w=320&f=webp", ... for every width × format (one "" when both lists are empty).
std::vector<std::string> warm_variants(const std::vector<int>& widths,
                                       const std::vector<std::string>& formats);

// Keys from a manifest: one per line; blank lines and '#' comments skipped; a leading '/' dropped.
std::vector<std::string> parse_manifest(const std::string& text);

// Every original key under `prefix`, page by page.
std::vector<std::string> list_originals(Storage& storage, const std::string& prefix);

struct WarmFailure {
  std::string target;  // "/key?w=320&f=webp"
  std::string reason;  // "404 no such image"
};

struct WarmSummary {
  std::size_t total = 0;
  std::size_t made = 0;
  std::size_t already = 0;  // stored before: nothing made
  std::vector<WarmFailure> failed;
  std::size_t not_started = 0;  // left when stopped (SIGINT)
  double seconds = 0;
};

// Runs the plan; `stop` is polled between requests (requests in flight finish, so no
// write is cut). Progress goes to stderr: a redrawn bar on a terminal, else a line every
// few seconds.
WarmSummary run_warm(const Config& config, Storage& storage, const WarmPlan& plan,
                     const std::atomic<bool>& stop);

// The summary as printed at the end.
std::string format_summary(const WarmSummary& summary);

}  // namespace imageflex
