// Stable hashing (the same on every node and across restarts).
#pragma once

#include <string>
#include <string_view>

namespace imageflex {

std::string sha256_hex(std::string_view data);  // 64 lower-case hex digits

}  // namespace imageflex
