// libvips process set-up and per-job hygiene for a long-running server.
#pragma once

#include <chrono>
#include <cstdint>

namespace imageflex {

// Starts libvips once per process: operation cache off (a server sees each image
// once), one libvips thread per job (the worker pool provides the parallelism), and
// every loader blocked except the formats we serve (no SVG, PDF, ImageMagick, ...).
void init_vips(const char* argv0);

// Frees libvips' per-thread state and error buffer after each job on a worker thread.
void end_vips_job();

// Pixel memory libvips holds now, in bytes (its tracked allocations), for the metrics.
std::uint64_t vips_memory_bytes();

using Deadline = std::chrono::steady_clock::time_point;

}  // namespace imageflex
