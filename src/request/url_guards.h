// Guards on what a URL may ask for, applied right after parsing. Each bounds how many
// variants (work and storage) one original can be made to cost:
//   - signed URLs: only URLs the site signed are served, optionally until an expiry;
//   - allowed sizes: w and h are kept to a list or to multiples of a step, refused or
//     rounded up to the next allowed size.
//
// A signature is base64url (no padding) of HMAC-SHA256(key, string to sign), where the
// string to sign is the decoded path ('%' and '?' kept escaped as %25 and %3F), then '?'
// and the image parameters as sent, in
// kQueryParameters order, then exp last:
//   /photos/cat.jpg?w=300&f=webp&exp=1767225600
// It travels as s=; exp= (unix seconds, optional) is covered by it. Neither names a variant.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "request/image_request.h"

namespace imageflex {

// A key is used as its literal bytes (e.g. the 64 characters of `openssl rand -hex 32`).
inline constexpr std::size_t kMinSigningKeyBytes = 32;

struct SigningSettings {
  std::vector<std::string> keys;  // any of them verifies, the first signs; empty = signing off
  bool sign_originals = true;     // with keys: requests without image parameters need a signature too
};

enum class SizePolicy {
  kRefuse,   // a size outside the set is a 400 naming the allowed ones
  kRoundUp,  // the next allowed size; the largest when beyond it
};

struct SizeSettings {
  std::vector<int> widths;   // allowed w, ascending; empty = no list
  std::vector<int> heights;  // allowed h, ascending; empty = no list
  int step = 0;              // a side without a list: multiples of this; 0 = any size
  SizePolicy policy = SizePolicy::kRoundUp;
};

struct UrlGuards {
  SigningSettings signing;
  SizeSettings sizes;
};

// The text a signature covers (see above).
std::string string_to_sign(const ImageRequest& request);

// The s= value for `request` (with its exp, if any) under `key`.
std::string url_signature(std::string_view key, const ImageRequest& request);

// Throws Error(kForbidden) with a short reason unless the request is signed by one of
// the keys and its exp, if any, is not before `now` (unix seconds). Signing off: no-op.
void check_signature(const ImageRequest& request, const SigningSettings& signing, std::int64_t now);

// One side's size under the policy: 0 (not asked) stays 0; an allowed size is kept;
// otherwise snapped up, or refused with Error(kBadRequest). `max` bounds a step's multiples.
int allowed_size(std::string_view name, int size, const std::vector<int>& allowed, int step,
                 SizePolicy policy, int max);

// The request as it may be served: signature checked first (so a stranger learns nothing
// of the sizes), then w and h brought into the allowed set, which the variant key then names.
ImageRequest guard_request(ImageRequest request, const UrlGuards& guards, std::int64_t now,
                           int max_dimension);

// `imageflex sign`: the target with exp (when given) and s appended, signed with `key`.
// Throws Error(kBadRequest) if the target is not a valid request or already has s or exp.
std::string sign_target(std::string_view target, std::string_view key, std::optional<std::int64_t> expires,
                        int max_dimension);

}  // namespace imageflex
