// Helpers for tests that run the deploy/ scripts (scale-out, edge) as a user would:
// what start.sh writes to DIR/env, and a node's counters.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "http_client.h"

namespace imageflex::test {

// Whitespace-separated words ("a b  c" -> {"a", "b", "c"}).
std::vector<std::string> split_words(const std::string& text);

// DIR/env as start.sh writes it: KEY=VALUE or KEY="VALUE WITH SPACES".
std::map<std::string, std::string> read_env_file(const std::string& path);

// One counter of a node's /_imageflex/stats; throws when it is missing.
long stats_counter(HttpClient& client, const std::string& node_url, const std::string& name);

}  // namespace imageflex::test
