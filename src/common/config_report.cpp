#include "common/config_report.h"

#include <algorithm>

namespace imageflex {
namespace {

std::string_view source_name(SettingSource source) {
  switch (source) {
    case SettingSource::kDefault: return "default";
    case SettingSource::kProfile: return "profile";
    case SettingSource::kEnvironment: return "environment";
    case SettingSource::kFlag: return "flag";
  }
  return "";
}

// A value as a profile would hold it: numbers and booleans bare, the rest quoted.
std::string toml_value(const std::string& value) {
  const bool number =
      !value.empty() && std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (number || value == "true" || value == "false") return value;
  std::string quoted = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') quoted += '\\';
    if (c == '\n') {
      quoted += "\\n";
      continue;
    }
    quoted += c;
  }
  return quoted + "\"";
}

}  // namespace

std::string config_report(const ResolvedConfig& resolved) {
  const Config& config = resolved.config;
  std::string out = "# environment " + config.env + ", profile " +
                    (config.profile.empty() ? std::string("(none)") : config.profile) + "\n";
  for (const auto& origin : resolved.origins) {
    std::string value;
    if (origin.source == SettingSource::kDefault) {
      value = "# " + origin.info->flag + " = " + origin.info->default_value;  // defaults may be descriptions
    } else if (origin.info->secret) {
      value = origin.info->flag + " = \"" + (origin.value.empty() ? "" : "<set>") + "\"";
    } else {
      value = origin.info->flag + " = " + toml_value(origin.value);
    }
    const std::size_t pad = value.size() < 48 ? 48 - value.size() : 1;
    out += value + std::string(pad, ' ') + "# " + std::string(source_name(origin.source));
    if (!origin.where.empty()) out += " " + origin.where;
    out += "\n";
  }
  return out;
}

}  // namespace imageflex
