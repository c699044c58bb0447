// Service configuration: defaults < environment (IF_*) < command-line flags.
// This is the only code that reads the environment for settings.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace imageflex {

struct Limits {
  std::uint64_t max_source_bytes = 50ull << 20;   // 50 MiB
  std::uint64_t max_source_pixels = 100'000'000;  // 100 MP, summed over all frames loaded
  int max_output_dimension = 8192;                // w, h and the result, in pixels
  int max_frames = 200;                           // animation frames kept
  int deadline_ms = 15000;                        // per request, end to end
};

// Defaults measured by bench/quality.sh (BENCHMARKS.md): each format's lowest quality
// that matches JPEG q80's SSIM on photographs, and the AVIF effort whose encode fits a
// first-request budget.
struct Quality {
  int jpeg = 80;
  int webp = 86;
  int avif = 71;
  int avif_effort = 0;  // libvips effort: 0 fastest .. 9 slowest and smallest
  int png_compression = 6;
};

struct Config {
  std::string root = "./samples";  // filesystem storage root
  std::string storage;             // "" = the filesystem root; "s3://bucket/prefix"
  std::string listen = "127.0.0.1:8080";
  int workers = 0;           // transform threads; 0 = number of cores
  int queue = 64;            // transforms waiting beyond the running ones
  int io_threads = 2;        // HTTP I/O threads (never run libvips)
  int handler_threads = 16;  // threads that talk to storage and wait on transforms
  std::uint64_t memory_cache_bytes = 64ull << 20;
  std::string cache_control_original = "public, max-age=3600";
  std::string cache_control_variant = "public, max-age=86400";
  bool access_log = true;
  // `imageflex lambda`: answer in the function URL's RESPONSE_STREAM invoke mode (true) or
  // in BUFFERED mode (false); the stack sets it to match the function URL.
  bool lambda_streaming = true;
  std::string tls_ca_file;  // CA bundle for HTTPS to S3; "" = libcurl's default
  Limits limits;
  Quality quality;
};

// One documented setting: its flag name, environment name, default and help.
struct SettingInfo {
  std::string flag;
  std::string env;
  std::string default_value;
  std::string help;
};
const std::vector<SettingInfo>& settings();

// Applies environment then flags (name → value, flags without the leading "--")
// over defaults and validates; throws std::invalid_argument naming the setting.
Config load_config(const std::map<std::string, std::string>& flags,
                   const std::map<std::string, std::string>& environment);

// The process environment restricted to the settings' names.
std::map<std::string, std::string> settings_environment();

}  // namespace imageflex
