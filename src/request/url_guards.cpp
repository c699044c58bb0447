#include "request/url_guards.h"

#include <algorithm>
#include <charconv>

#include "common/error.h"
#include "common/hash.h"

namespace imageflex {
namespace {

[[noreturn]] void forbidden(const std::string& reason) {
  throw Error(ErrorKind::kForbidden, reason);
}

// exp as unix seconds: digits only; nullopt if malformed.
std::optional<std::int64_t> parse_expiry(std::string_view text) {
  std::int64_t seconds = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, seconds);
  if (text.empty() || text.size() > 12 || ec != std::errc() || ptr != end || text.front() == '-') {
    return std::nullopt;
  }
  return seconds;
}

std::string join(const std::vector<int>& values) {
  std::string out;
  for (int value : values) out += (out.empty() ? "" : ", ") + std::to_string(value);
  return out;
}

}  // namespace

std::string string_to_sign(const ImageRequest& request) {
  // '%' and '?' stay escaped in the path, so its first '?' always starts the query: an
  // original named "a?w=1" cannot pass for "a" with w=1.
  std::string text = "/";
  for (char c : request.key) text += c == '%' ? "%25" : c == '?' ? "%3F" : std::string(1, c);
  std::string query = request.canonical_query;
  if (!request.expires.empty()) query += (query.empty() ? "exp=" : "&exp=") + request.expires;
  return text + (query.empty() ? "" : "?" + query);
}

std::string url_signature(std::string_view key, const ImageRequest& request) {
  return base64url_encode(hmac_sha256(key, string_to_sign(request)));
}

void check_signature(const ImageRequest& request, const SigningSettings& signing, std::int64_t now) {
  if (signing.keys.empty()) return;
  if (!request.wants_variant() && !signing.sign_originals) return;
  if (request.signature.empty()) forbidden("signature required (s=)");
  // Every key is tried, so rotation needs no flag day: old and new URLs both verify.
  bool valid = false;
  for (const auto& key : signing.keys)
    valid = constant_time_equal(url_signature(key, request), request.signature) || valid;
  if (!valid) forbidden("bad signature");
  // The expiry is signed too, so it is read only once the signature holds.
  if (request.expires.empty()) return;
  const auto expires = parse_expiry(request.expires);
  if (!expires) forbidden("bad expiry (exp=)");
  if (*expires < now) forbidden("signature expired");
}

int allowed_size(std::string_view name, int size, const std::vector<int>& allowed, int step,
                 SizePolicy policy, int max) {
  if (size == 0) return 0;  // not asked: the other side or the original decides
  if (!allowed.empty()) {
    const auto next = std::lower_bound(allowed.begin(), allowed.end(), size);
    if (next != allowed.end() && *next == size) return size;
    if (policy == SizePolicy::kRefuse) {
      throw Error(ErrorKind::kBadRequest, std::string(name) + " must be one of " + join(allowed));
    }
    return next == allowed.end() ? allowed.back() : *next;
  }
  if (step > 0) {
    if (size % step == 0) return size;
    if (policy == SizePolicy::kRefuse) {
      throw Error(ErrorKind::kBadRequest,
                  std::string(name) + " must be a multiple of " + std::to_string(step));
    }
    const int up = (size / step + 1) * step;
    return up <= max ? up : max / step * step;  // the largest multiple within the limit
  }
  return size;
}

ImageRequest guard_request(ImageRequest request, const UrlGuards& guards, std::int64_t now,
                           int max_dimension) {
  check_signature(request, guards.signing, now);
  const SizeSettings& sizes = guards.sizes;
  auto& geometry = request.geometry;
  geometry.width = allowed_size("w", geometry.width, sizes.widths, sizes.step, sizes.policy, max_dimension);
  geometry.height =
      allowed_size("h", geometry.height, sizes.heights, sizes.step, sizes.policy, max_dimension);
  return request;
}

std::string sign_target(std::string_view target, std::string_view key, std::optional<std::int64_t> expires,
                        int max_dimension) {
  ImageRequest request = parse_request(target, max_dimension);
  if (!request.signature.empty() || !request.expires.empty()) {
    throw Error(ErrorKind::kBadRequest, "the target has s= or exp= already");
  }
  std::string out(target);
  const auto append = [&out](std::string_view name, const std::string& value) {
    const bool open = out.find('?') == std::string::npos;
    out += open ? "?" : (out.back() == '?' || out.back() == '&') ? "" : "&";
    out += std::string(name) + "=" + value;
  };
  if (expires) {
    request.expires = std::to_string(*expires);
    append("exp", request.expires);
  }
  append("s", url_signature(key, request));
  return out;
}

}  // namespace imageflex
