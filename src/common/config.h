// Service configuration: defaults < environment (IF_*) < command-line flags.
// This is the only code that reads the environment for settings.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "image/limits.h"
#include "image/quality.h"

namespace imageflex {

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
