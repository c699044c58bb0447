// `imageflex lambda`: the process AWS Lambda starts as `bootstrap`. It takes invocations
// from the Runtime API one at a time and answers each through the same Handler as `serve`.
#pragma once

#include <functional>

#include "common/config.h"

namespace imageflex {

// Reads the settings with `load_config` (a failure, like a store that cannot be opened, is
// reported to the Runtime API as an init error, then the process exits with 1), then serves
// invocations until the Runtime API goes away. Returns the exit status.
int run_lambda(const std::function<Config()>& load_config);

}  // namespace imageflex
