// `imageflex config`: the settings in effect and where each came from, written as a
// profile (setting = value) with the source as a comment, so it can be copied into one.
#pragma once

#include <string>

#include "common/config.h"

namespace imageflex {

// Secrets show as "<set>" (or nothing when unset), never their value.
std::string config_report(const ResolvedConfig& resolved);

}  // namespace imageflex
