// Stable hashing (the same on every node and across restarts) and hex encoding.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace imageflex {

// Lower-case hex, two digits a byte.
std::string hex_encode(const unsigned char* data, std::size_t size);

std::string sha256_hex(std::string_view data);  // 64 lower-case hex digits

}  // namespace imageflex
