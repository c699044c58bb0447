#include "request/image_request.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace imageflex {
namespace {

constexpr int kMax = 8192;

ErrorKind error_kind_of(const std::string& target) {
  try {
    parse_request(target, kMax);
  } catch (const Error& error) {
    return error.kind();
  }
  ADD_FAILURE() << target << " parsed without error";
  return ErrorKind::kInternal;
}

TEST(ImageRequestTest, ParsesEveryParameter) {
  auto r = parse_request("/a/photo.jpg?w=400&h=300&f=webp&q=70&fit=contain&enlarge=true", kMax);
  EXPECT_EQ(r.key, "a/photo.jpg");
  EXPECT_EQ(r.geometry.width, 400);
  EXPECT_EQ(r.geometry.height, 300);
  EXPECT_EQ(r.format, Format::kWebp);
  EXPECT_EQ(r.quality, 70);
  EXPECT_EQ(r.geometry.fit, Fit::kContain);
  EXPECT_TRUE(r.geometry.enlarge);
  EXPECT_TRUE(r.wants_variant());
}

TEST(ImageRequestTest, NoParametersMeansTheOriginal) {
  auto r = parse_request("/photo.jpg", kMax);
  EXPECT_FALSE(r.wants_variant());
  EXPECT_FALSE(parse_request("/photo.jpg?utm_source=x", kMax).wants_variant());
}

TEST(ImageRequestTest, DecodesPercentEscapesAndUtf8Names) {
  EXPECT_EQ(parse_request("/space%20name%20%C3%A9.jpg", kMax).key, "space name é.jpg");
  EXPECT_EQ(parse_request("/a+b.jpg", kMax).key, "a+b.jpg");  // '+' is a plus in a path
}

TEST(ImageRequestTest, NormalisesEquivalentSpellings) {
  auto a = parse_request("/p.jpg?w=0300&f=jpg", kMax);
  auto b = parse_request("/p.jpg?f=JPEG&w=300&unknown=1", kMax);
  EXPECT_EQ(a.geometry, b.geometry);
  EXPECT_EQ(a.format, b.format);
  // fit only matters with both sides; with one side it must not split variants.
  EXPECT_EQ(parse_request("/p.jpg?w=300&fit=fill", kMax).geometry.fit, Fit::kCover);
}

struct BadCase {
  const char* target;
  ErrorKind kind;
};

TEST(ImageRequestTest, RejectsBadInputWithTheRightKind) {
  const std::string long_path = "/" + std::string(1100, 'a') + ".jpg";
  const std::string long_query = "/p.jpg?x=" + std::string(2100, 'a');
  const BadCase table[] = {
      {"/p.jpg?w=abc", ErrorKind::kBadRequest},
      {"/p.jpg?w=0", ErrorKind::kBadRequest},
      {"/p.jpg?w=-1", ErrorKind::kBadRequest},
      {"/p.jpg?w=8193", ErrorKind::kBadRequest},
      {"/p.jpg?w=", ErrorKind::kBadRequest},
      {"/p.jpg?w=1.5", ErrorKind::kBadRequest},
      {"/p.jpg?w=99999999999", ErrorKind::kBadRequest},
      {"/p.jpg?h=+5", ErrorKind::kBadRequest},
      {"/p.jpg?f=bmp", ErrorKind::kBadRequest},
      {"/p.jpg?fit=stretch", ErrorKind::kBadRequest},
      {"/p.jpg?q=0", ErrorKind::kBadRequest},
      {"/p.jpg?q=101", ErrorKind::kBadRequest},
      {"/p.jpg?w=1&w=2", ErrorKind::kBadRequest},
      {"/p.jpg?enlarge=maybe", ErrorKind::kBadRequest},
      {"/../etc/passwd", ErrorKind::kBadRequest},
      {"/a/%2e%2e/b.jpg", ErrorKind::kBadRequest},
      {"/a/%2E%2E/%2E%2E/b", ErrorKind::kBadRequest},
      {"/a\\b.jpg", ErrorKind::kBadRequest},
      {"/a%5c..%5cb.jpg", ErrorKind::kBadRequest},
      {"/a%00.jpg", ErrorKind::kBadRequest},
      {"/a//b.jpg", ErrorKind::kBadRequest},
      {"/./a.jpg", ErrorKind::kBadRequest},
      {"/a%zz.jpg", ErrorKind::kBadRequest},
      {"/a%c3.jpg", ErrorKind::kBadRequest},
      {"/a%0a.jpg", ErrorKind::kBadRequest},
      {"/", ErrorKind::kNotFound},
      {"/_imageflex/v1/p.jpg/x", ErrorKind::kNotFound},
      {"/_imageflex", ErrorKind::kNotFound},
  };
  for (const auto& row : table) EXPECT_EQ(error_kind_of(row.target), row.kind) << row.target;
  EXPECT_EQ(error_kind_of(long_path), ErrorKind::kUriTooLong);
  EXPECT_EQ(error_kind_of(long_query), ErrorKind::kUriTooLong);
}

TEST(ImageRequestTest, ReasonsNameTheParameter) {
  try {
    parse_request("/p.jpg?h=abc", kMax);
    FAIL();
  } catch (const Error& error) {
    EXPECT_EQ(std::string(error.what()).rfind("h ", 0), 0u) << error.what();
  }
}

}  // namespace
}  // namespace imageflex
