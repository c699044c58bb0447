#include "lambda/function_url.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace imageflex {
namespace {

using Json = nlohmann::json;

Json event(const std::string& method, const std::string& path, const std::string& query) {
  return {{"version", "2.0"},
          {"rawPath", path},
          {"rawQueryString", query},
          {"headers", {{"accept", "image/avif,image/webp"}, {"if-none-match", "\"a\", \"b\""}}},
          {"cookies", {"a=1", "b=2"}},
          {"requestContext", {{"http", {{"method", method}, {"path", path}}}}},
          {"isBase64Encoded", false}};
}

TEST(FunctionUrlTest, AnEventBecomesTheRequestTheServerWouldSee) {
  const Request request = request_from_event(event("GET", "/a%20b/c.jpg", "w=10&f=webp").dump());
  EXPECT_EQ(request.method(), http::verb::get);
  EXPECT_EQ(request.target(), "/a%20b/c.jpg?w=10&f=webp");
  EXPECT_EQ(request[http::field::accept], "image/avif,image/webp");
  EXPECT_EQ(request[http::field::if_none_match], "\"a\", \"b\"");
  EXPECT_EQ(request[http::field::cookie], "a=1; b=2");

  EXPECT_EQ(request_from_event(event("HEAD", "/c.jpg", "").dump()).target(), "/c.jpg");
  // Other methods reach the handler, which answers 405 as it does over HTTP.
  EXPECT_EQ(request_from_event(event("POST", "/c.jpg", "").dump()).method(), http::verb::post);
}

TEST(FunctionUrlTest, BrokenPartsAre400AndOtherPayloadsAreNotHttpEvents) {
  const std::pair<std::function<void(Json&)>, std::string> bad[] = {
      {[](Json& e) { e["headers"] = "x"; }, "headers"},
      {[](Json& e) { e["headers"]["x"] = 1; }, "headers"},
      {[](Json& e) { e["headers"]["bad name"] = "x"; }, "headers"},
      {[](Json& e) { e["headers"]["x"] = "a\r\nInjected: 1"; }, "headers"},
      {[](Json& e) { e["cookies"] = "a=1"; }, "cookies"},
      {[](Json& e) { e["rawPath"] = "no-slash"; }, "rawPath"},
      {[](Json& e) { e["rawQueryString"] = 5; }, "rawQueryString"},
      {[](Json& e) { e["requestContext"]["http"]["method"] = "G E T"; }, "method"},
      {[](Json& e) { e["body"] = "x"; }, "no body"},
      {[](Json& e) {
         e["body"] = "eA=";
         e["isBase64Encoded"] = true;
       },
       "base64"},
      {[](Json& e) {
         e["body"] = "eA==";
         e["isBase64Encoded"] = true;
       },
       "no body"},
      {[](Json& e) { e["isBase64Encoded"] = "yes"; }, "isBase64Encoded"},
  };
  for (const auto& [spoil, named] : bad) {
    Json e = event("GET", "/c.jpg", "");
    spoil(e);
    try {
      request_from_event(e.dump());
      ADD_FAILURE() << e.dump() << " accepted";
    } catch (const Error& error) {
      EXPECT_EQ(error.kind(), ErrorKind::kBadRequest);
      EXPECT_NE(std::string(error.what()).find(named), std::string::npos) << error.what();
    }
  }
  for (const std::string payload : {"", "[]", "not json", R"({"rawPath":"/a"})", R"({"key":"value"})",
                                    R"({"rawPath":"/a","requestContext":{"http":{"method":7}}})"}) {
    EXPECT_THROW(request_from_event(payload), NotAnHttpEvent) << payload;
  }
}

TEST(FunctionUrlTest, ResponsesInBothInvokeModes) {
  Response response{http::status::not_modified, 11};
  response.set(http::field::etag, "\"e\"");
  response.set(http::field::content_length, "10");
  response.set(http::field::connection, "keep-alive");
  response.insert(http::field::set_cookie, "a=1");
  response.insert("X-Twice", "1");
  response.insert("X-Twice", "2");
  const Json prelude = Json::parse(stream_prelude(response));
  EXPECT_EQ(prelude, Json::parse(R"({"statusCode":304,"headers":{"etag":"\"e\"","x-twice":"1, 2"},
                                      "cookies":["a=1"]})"));

  Response image{http::status::ok, 11};
  image.body() = std::string("\xff\xd8\x00\x01", 4);
  const Json buffered = Json::parse(buffered_payload(image));
  EXPECT_EQ(buffered.at("statusCode"), 200);
  EXPECT_EQ(buffered.at("isBase64Encoded"), true);
  EXPECT_EQ(buffered.at("body"), "/9gAAQ==");
}

TEST(FunctionUrlTest, Base64AsInRfc4648) {
  const std::pair<std::string, std::string> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [bytes, text] : vectors) {
    EXPECT_EQ(base64_encode(bytes), text);
    EXPECT_EQ(base64_decode(text), bytes);
  }
  EXPECT_THROW(base64_decode("Zm9"), Error);
  EXPECT_THROW(base64_decode("Zm9v!A=="), Error);
}

}  // namespace
}  // namespace imageflex
