// Stable hashing (the same on every node and across restarts), message authentication,
// and the encodings they travel in.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace imageflex {

// Lower-case hex, two digits a byte.
std::string hex_encode(const unsigned char* data, std::size_t size);

std::string sha256_hex(std::string_view data);  // 64 lower-case hex digits

// HMAC-SHA256 of `data` under `key`: the 32 raw bytes.
std::string hmac_sha256(std::string_view key, std::string_view data);

// Standard base64 (RFC 4648 section 4), with '=' padding.
std::string base64_encode(std::string_view bytes);

// URL-safe base64 (RFC 4648 section 5: '-' and '_'), without padding.
std::string base64url_encode(std::string_view bytes);

// Equal, in a time that depends only on the lengths (for secrets such as signatures).
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace imageflex
