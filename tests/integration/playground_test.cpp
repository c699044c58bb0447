// The playground's page and endpoints over HTTP (the page itself runs in headless
// Chromium: tests/browser/, ctest playground_browser).
#include <nlohmann/json.hpp>

#include "integration.h"
#include "request/parameters.h"

namespace imageflex::test {
namespace {

TEST(PlaygroundTest, ThePageAndItsEndpointsAreServedWhenOn) {
  ServiceUnderTest service(Backend::kFilesystem, {"--playground", "true"});
  auto page = service.get("/_imageflex/playground");
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.header("content-type"), "text/html; charset=utf-8");
  EXPECT_NE(page.header("content-security-policy").find("default-src 'self'"), std::string::npos);
  EXPECT_NE(page.body.find("<script src=\"/_imageflex/playground.js\">"), std::string::npos);
  EXPECT_EQ(service.get("/_imageflex/playground.js").status, 200);
  EXPECT_EQ(service.get("/_imageflex/playground.css").header("content-type"), "text/css; charset=utf-8");

  // The list pages through the originals, never the variants, at most 100 at a time.
  service.get("/landscape.jpg?w=10");  // a variant under _imageflex/
  std::vector<std::string> keys;
  std::string after;
  for (int pages = 0; pages < 100; ++pages) {
    auto list = service.get("/_imageflex/list?limit=7&after=" + after);
    ASSERT_EQ(list.status, 200) << list.body;
    const auto json = nlohmann::json::parse(list.body);
    EXPECT_LE(json["keys"].size(), 7u);
    for (const auto& key : json["keys"]) keys.push_back(key);
    after = json["next"];
    if (after.empty()) break;
  }
  EXPECT_NE(std::find(keys.begin(), keys.end(), "landscape.jpg"), keys.end());
  for (const auto& key : keys) EXPECT_NE(key.rfind("_imageflex/", 0), 0u) << key;
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
  EXPECT_EQ(service.get("/_imageflex/list?limit=101").status, 400);
  EXPECT_EQ(service.get("/_imageflex/list?limit=x").status, 400);

  const auto params = nlohmann::json::parse(service.get("/_imageflex/params").body);
  std::vector<std::string> names;
  for (const auto& p : params["params"]) names.push_back(p["name"]);
  // The parser's own table, in its order.
  EXPECT_EQ(names, std::vector<std::string>(kQueryParameters.begin(), kQueryParameters.end()));
}

TEST(PlaygroundTest, NothingOfItExistsWhenOff) {
  ServiceUnderTest service(Backend::kFilesystem, {"--playground", "false"});
  for (const std::string path :
       {"/_imageflex/playground", "/_imageflex/playground.js", "/_imageflex/list", "/_imageflex/params"}) {
    EXPECT_EQ(service.get(path).status, 404) << path;
  }
}

}  // namespace
}  // namespace imageflex::test
