// Signed URLs and allowed sizes (request/url_guards.h), as pure functions of the parsed request.
#include "request/url_guards.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "request/key.h"

namespace imageflex {
namespace {

const std::string kKey(32, 'k');
const std::string kOldKey = "an-older-key-still-accepted-0123456789";
constexpr std::int64_t kNow = 1'767'225'000;

ImageRequest parse(const std::string& target) {
  return parse_request(target, 8192);
}

// The status a guarded request gets (200 if none).
int status_of(const std::string& target, const UrlGuards& guards, std::int64_t now = kNow) {
  try {
    guard_request(parse(target), guards, now, 8192);
    return 200;
  } catch (const Error& error) {
    return http_status(error.kind());
  }
}

UrlGuards signing_with(std::vector<std::string> keys, bool sign_originals = true) {
  UrlGuards guards;
  guards.signing = {std::move(keys), sign_originals};
  return guards;
}

TEST(UrlGuardsTest, TheStringToSignIsTheDecodedPathAndTheCanonicalQuery) {
  const std::pair<std::string, std::string> table[] = {
      {"/photo.jpg", "/photo.jpg"},
      {"/photo.jpg?w=300&f=webp", "/photo.jpg?w=300&f=webp"},
      // Any order, escape or unknown parameter: one string, in kQueryParameters order.
      {"/photo.jpg?f=webp&w=300", "/photo.jpg?w=300&f=webp"},
      {"/photo.jpg?%66=webp&utm=x&w=300", "/photo.jpg?w=300&f=webp"},
      {"/photo.jpg?q=50&f=jpg&enlarge=1&fit=fill&h=20&w=10",
       "/photo.jpg?w=10&h=20&fit=fill&enlarge=1&f=jpg&q=50"},
      // Values as sent: the signer signs what it sends.
      {"/photo.jpg?w=0300", "/photo.jpg?w=0300"},
      // exp last; s never.
      {"/photo.jpg?s=abc&exp=1767225600&w=300", "/photo.jpg?w=300&exp=1767225600"},
      {"/photo.jpg?exp=1767225600", "/photo.jpg?exp=1767225600"},
      {"/my%20photos/caf%C3%A9.jpg?w=5", "/my photos/café.jpg?w=5"},
      // Except '%' and '?': no path can pass for a query.
      {"/a%3Fw=1", "/a%3Fw=1"},
      {"/100%25.jpg?w=1", "/100%25.jpg?w=1"},
  };
  for (const auto& [target, expected] : table) EXPECT_EQ(string_to_sign(parse(target)), expected) << target;
}

TEST(UrlGuardsTest, AnOriginalNamedLikeAQueryIsNotThatQuery) {
  const UrlGuards guards = signing_with({kKey});
  const std::string odd = sign_target("/a%3Fw=1", kKey, std::nullopt, 8192);
  EXPECT_EQ(status_of(odd, guards), 200);
  EXPECT_EQ(status_of("/a?w=1&s=" + odd.substr(odd.find("?s=") + 3), guards), 403);
}

TEST(UrlGuardsTest, SignaturesAreBase64UrlHmacSha256) {
  // The same values the Python recipe in docs/operations.md gives (python3 -c ...).
  EXPECT_EQ(url_signature(kKey, parse("/photo.jpg?w=300&f=webp")),
            "4Fwc7e8q9Y-JoM2LFhKNil5cNLeUukXU90MwXUwXAA0");
  EXPECT_EQ(url_signature(kKey, parse("/photo.jpg?f=webp&w=300&exp=1767225600")),
            "PXmOzhCQtV-Hjapurvn1ozZCwmFnyRlEnVrHmy9WOv4");
  EXPECT_EQ(url_signature(kKey, parse("/photo.jpg")), "MCwbURNHFwPDgNNemOcVwK8Bs6zbxQWVNRSBfcwhivY");
}

TEST(UrlGuardsTest, OnlyWhatAKeySignedPasses) {
  const UrlGuards guards = signing_with({kKey, kOldKey});
  const std::string good = sign_target("/photo.jpg?w=300&f=webp", kKey, std::nullopt, 8192);
  const std::string old = sign_target("/photo.jpg?w=300&f=webp", kOldKey, std::nullopt, 8192);
  const std::string stranger =
      sign_target("/photo.jpg?w=300&f=webp", std::string(40, 'x'), std::nullopt, 8192);
  const std::string sig = good.substr(good.find("&s=") + 3);
  const struct {
    std::string target;
    int status;
  } table[] = {
      {good, 200},
      {old, 200},  // rotation: any listed key verifies
      {stranger, 403},
      {"/photo.jpg?w=300&f=webp", 403},                          // missing
      {"/photo.jpg?w=300&f=webp&s=", 403},                       // empty
      {"/photo.jpg?w=301&f=webp&s=" + sig, 403},                 // another size
      {"/photo.jpg?w=300&s=" + sig, 403},                        // a parameter dropped
      {"/other.jpg?w=300&f=webp&s=" + sig, 403},                 // another image
      {"/photo.jpg?w=300&f=webp&exp=9999999999&s=" + sig, 403},  // an expiry added
      {"/photo.jpg?s=" + sig + "&f=webp&w=300", 200},            // order does not matter
      {"/photo.jpg?w=300&%66=webp&utm=1&s=" + sig, 200},         // nor escapes or unknown parameters
      {"/photo.jpg?w=300&f=webp&s=" + sig.substr(0, 42), 403},   // cut short
      {"/photo.jpg?w=300&f=webp&s=" + sig + "A", 403},
  };
  for (const auto& row : table) EXPECT_EQ(status_of(row.target, guards), row.status) << row.target;
}

TEST(UrlGuardsTest, TheReasonSaysWhatIsWrong) {
  const UrlGuards guards = signing_with({kKey});
  auto reason = [&](const std::string& target) {
    try {
      guard_request(parse(target), guards, kNow, 8192);
    } catch (const Error& error) {
      return std::string(error.what());
    }
    return std::string("passed");
  };
  EXPECT_EQ(reason("/a.jpg?w=1"), "signature required (s=)");
  EXPECT_EQ(reason("/a.jpg?w=1&s=AAAA"), "bad signature");
  EXPECT_EQ(reason(sign_target("/a.jpg?w=1", kKey, kNow - 1, 8192)), "signature expired");
}

TEST(UrlGuardsTest, AnExpiryIsHonouredAndCannotBeChanged) {
  const UrlGuards guards = signing_with({kKey});
  const std::string until = sign_target("/a.jpg?w=1", kKey, kNow + 60, 8192);
  EXPECT_EQ(status_of(until, guards, kNow), 200);
  EXPECT_EQ(status_of(until, guards, kNow + 60), 200);  // valid through its second
  EXPECT_EQ(status_of(until, guards, kNow + 61), 403);
  std::string extended = until;
  extended.replace(extended.find(std::to_string(kNow + 60)), 10, std::to_string(kNow + 6000));
  EXPECT_EQ(status_of(extended, guards, kNow + 61), 403) << "exp is signed";
  // A signed but malformed expiry is refused, not read as "never".
  ImageRequest odd = parse("/a.jpg?w=1&exp=soon");
  odd.signature = url_signature(kKey, odd);
  EXPECT_THROW(check_signature(odd, guards.signing, kNow), Error);
}

TEST(UrlGuardsTest, OriginalsNeedASignatureUnlessSignOriginalsIsOff) {
  EXPECT_EQ(status_of("/a.jpg", signing_with({kKey}, true)), 403);
  EXPECT_EQ(status_of(sign_target("/a.jpg", kKey, std::nullopt, 8192), signing_with({kKey}, true)), 200);
  EXPECT_EQ(status_of("/a.jpg", signing_with({kKey}, false)), 200);
  EXPECT_EQ(status_of("/a.jpg?utm=1", signing_with({kKey}, false)), 200);
  EXPECT_EQ(status_of("/a.jpg?w=5", signing_with({kKey}, false)), 403) << "variants still need one";
  EXPECT_EQ(status_of("/a.jpg?w=5", UrlGuards{}), 200) << "signing is off without keys";
}

TEST(UrlGuardsTest, SignatureParametersNeverNameAVariant) {
  const AcceptedFormats accepted{};
  const Quality quality{};
  const std::string plain = variant_key(parse("/a.jpg?w=300&f=webp"), "etag", accepted, quality);
  for (const char* target :
       {"/a.jpg?w=300&f=webp&s=abc", "/a.jpg?w=300&f=webp&exp=1&s=def", "/a.jpg?exp=99&w=300&f=webp"}) {
    EXPECT_EQ(variant_key(parse(target), "etag", accepted, quality), plain) << target;
  }
  EXPECT_FALSE(parse("/a.jpg?s=abc&exp=1").wants_variant());
  EXPECT_THROW(parse("/a.jpg?s=a&s=b"), Error) << "given twice";
  EXPECT_THROW(parse("/a.jpg?exp=1&exp=2"), Error);
}

TEST(UrlGuardsTest, SignTargetAppendsExpiryAndSignature) {
  const std::string target = sign_target("/a.jpg?w=1", kKey, 1767225600, 8192);
  EXPECT_EQ(target.rfind("/a.jpg?w=1&exp=1767225600&s=", 0), 0u) << target;
  EXPECT_EQ(sign_target("/a.jpg", kKey, std::nullopt, 8192).rfind("/a.jpg?s=", 0), 0u);
  EXPECT_EQ(sign_target("/a.jpg?", kKey, std::nullopt, 8192).rfind("/a.jpg?s=", 0), 0u);
  EXPECT_THROW(sign_target("/a.jpg?w=1&s=x", kKey, std::nullopt, 8192), Error);
  EXPECT_THROW(sign_target("/a.jpg?exp=1", kKey, std::nullopt, 8192), Error);
  EXPECT_THROW(sign_target("/a.jpg?w=big", kKey, std::nullopt, 8192), Error);
}

TEST(UrlGuardsTest, SizesSnapToTheAllowedSet) {
  const std::vector<int> list = {100, 200, 400};
  const struct {
    int size;
    std::vector<int> allowed;
    int step;
    SizePolicy policy;
    int expected;  // -1 = refused
  } table[] = {
      {0, list, 0, SizePolicy::kRoundUp, 0},  // not asked
      {0, list, 0, SizePolicy::kRefuse, 0},
      {1, list, 0, SizePolicy::kRoundUp, 100},
      {100, list, 0, SizePolicy::kRoundUp, 100},
      {101, list, 0, SizePolicy::kRoundUp, 200},
      {399, list, 0, SizePolicy::kRoundUp, 400},
      {401, list, 0, SizePolicy::kRoundUp, 400},  // beyond: the largest
      {8192, list, 0, SizePolicy::kRoundUp, 400},
      {200, list, 0, SizePolicy::kRefuse, 200},
      {201, list, 0, SizePolicy::kRefuse, -1},
      {1, {}, 100, SizePolicy::kRoundUp, 100},
      {100, {}, 100, SizePolicy::kRoundUp, 100},
      {101, {}, 100, SizePolicy::kRoundUp, 200},
      {8150, {}, 100, SizePolicy::kRoundUp, 8100},  // 8200 is beyond the limit: the largest within it
      {8192, {}, 100, SizePolicy::kRoundUp, 8100},
      {300, {}, 100, SizePolicy::kRefuse, 300},
      {301, {}, 100, SizePolicy::kRefuse, -1},
      {301, list, 100, SizePolicy::kRoundUp, 400},  // a list wins over the step
      {301, {}, 0, SizePolicy::kRefuse, 301},       // nothing set: any size
  };
  for (const auto& row : table) {
    const std::string label = std::to_string(row.size) + " step " + std::to_string(row.step);
    if (row.expected < 0) {
      EXPECT_THROW(allowed_size("w", row.size, row.allowed, row.step, row.policy, 8192), Error) << label;
    } else {
      EXPECT_EQ(allowed_size("w", row.size, row.allowed, row.step, row.policy, 8192), row.expected) << label;
    }
  }
}

TEST(UrlGuardsTest, ARefusalNamesTheAllowedSizes) {
  try {
    allowed_size("h", 150, {100, 200, 400}, 0, SizePolicy::kRefuse, 8192);
    FAIL();
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kBadRequest);
    EXPECT_STREQ(error.what(), "h must be one of 100, 200, 400");
  }
  try {
    allowed_size("w", 150, {}, 100, SizePolicy::kRefuse, 8192);
    FAIL();
  } catch (const Error& error) {
    EXPECT_STREQ(error.what(), "w must be a multiple of 100");
  }
}

TEST(UrlGuardsTest, GuardedRequestsNameTheSnappedSizeInTheirKey) {
  UrlGuards guards;
  guards.sizes.widths = {100, 200, 400};
  guards.sizes.heights = {50};
  const ImageRequest snapped = guard_request(parse("/a.jpg?w=150&h=20"), guards, kNow, 8192);
  EXPECT_EQ(snapped.geometry.width, 200);
  EXPECT_EQ(snapped.geometry.height, 50);
  EXPECT_EQ(variant_key(snapped, "e", {}, {}), variant_key(parse("/a.jpg?w=200&h=50"), "e", {}, {}));
  // The signature is checked first: a stranger learns nothing about the sizes.
  guards.signing.keys = {kKey};
  guards.sizes.policy = SizePolicy::kRefuse;
  EXPECT_EQ(status_of("/a.jpg?w=150", guards), 403);
  EXPECT_EQ(status_of(sign_target("/a.jpg?w=150", kKey, std::nullopt, 8192), guards), 400);
  EXPECT_EQ(status_of(sign_target("/a.jpg?w=200", kKey, std::nullopt, 8192), guards), 200);
}

}  // namespace
}  // namespace imageflex
