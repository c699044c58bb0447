#include "request/key.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace imageflex {
namespace {

std::string key_for(const std::string& target, const std::string& etag = "e1", AcceptedFormats accepted = {},
                    Quality quality = {}) {
  return variant_key(parse_request(target, 8192), etag, accepted, quality);
}

TEST(KeyTest, EquivalentRequestsShareOneKey) {
  const std::pair<const char*, const char*> same[] = {
      {"/p.jpg?w=300", "/p.jpg?w=0300"},
      {"/p.jpg?w=300&f=jpg", "/p.jpg?f=jpeg&w=300"},
      {"/p.jpg?w=300&h=200", "/p.jpg?h=200&w=300&utm=1"},
      {"/p.jpg?w=300&f=webp", "/p.jpg?w=300&f=webp&q=86"},  // q=86 is WebP's default
      {"/p.jpg?w=300&fit=contain", "/p.jpg?w=300"},         // one side: fit is moot
      {"/p.jpg?w=300&h=200", "/p.jpg?w=300&h=200&fit=cover"},
  };
  for (const auto& [a, b] : same) EXPECT_EQ(key_for(a), key_for(b)) << a << " vs " << b;
}

TEST(KeyTest, DifferentVariantsGetDifferentKeys) {
  const std::pair<const char*, const char*> different[] = {
      {"/photo.png?w=300", "/photo.jpg?w=300"},  // the original system's collision
      {"/p.jpg?w=300", "/p.jpg?w=301"},
      {"/p.jpg?w=300", "/p.jpg?h=300"},
      {"/p.jpg?w=300&h=200", "/p.jpg?w=300&h=200&fit=contain"},
      {"/p.jpg?w=300&f=webp", "/p.jpg?w=300&f=avif"},
      {"/p.jpg?w=300&f=webp", "/p.jpg?w=300&f=webp&q=50"},
      {"/p.jpg?w=300", "/p.jpg?w=300&enlarge=1"},
      {"/p.jpg?w=300", "/p.jpg?w=300&f=jpeg"},
      {"/a/p.jpg?w=1", "/a/p.jpg/q.jpg?w=1"},  // an original "inside" another's name
  };
  for (const auto& [a, b] : different) EXPECT_NE(key_for(a), key_for(b)) << a << " vs " << b;
  // A trailing slash names no original, so it can never share a key with the name without it.
  EXPECT_THROW(key_for("/a/p.jpg/?w=1"), Error);
}

TEST(KeyTest, OriginalVersionAcceptAndDefaultsAreInTheKey) {
  EXPECT_NE(key_for("/p.jpg?w=1", "v1"), key_for("/p.jpg?w=1", "v2"));
  EXPECT_NE(key_for("/p.jpg?w=1", "e", {true, true}), key_for("/p.jpg?w=1", "e", {false, true}));
  EXPECT_NE(key_for("/p.jpg?w=1", "e", {false, true}), key_for("/p.jpg?w=1", "e", {false, false}));
  // Accept values that negotiate alike share a variant: AVIF alone is class "other".
  EXPECT_EQ(key_for("/p.jpg?w=1", "e", {true, false}), key_for("/p.jpg?w=1", "e", {false, false}));
  // With f= given, Accept cannot change the output, so it must not split the variant.
  EXPECT_EQ(key_for("/p.jpg?w=1&f=png", "e", {true, true}), key_for("/p.jpg?w=1&f=png", "e", {}));
  Quality lower;
  lower.jpeg = 60;
  EXPECT_NE(key_for("/p.jpg?w=1&f=jpeg", "e", {}, {}), key_for("/p.jpg?w=1&f=jpeg", "e", {}, lower));
}

TEST(KeyTest, KeysLiveUnderTheReservedPrefix) {
  std::string key = key_for("/dir/p.jpg?w=300");
  EXPECT_EQ(key.rfind("_imageflex/v4/dir/p.jpg/", 0), 0u) << key;
  EXPECT_EQ(variant_etag(key).front(), '"');
  EXPECT_NE(variant_etag(key), variant_etag(key_for("/dir/p.jpg?w=301")));
}

}  // namespace
}  // namespace imageflex
