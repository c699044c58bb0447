// imageflex warm's plan: the variants crossed with the keys, and the manifest format.
#include "warm/warm.h"

#include <gtest/gtest.h>

#include "memory_storage.h"

namespace imageflex {
namespace {

TEST(WarmPlanTest, WidthsCrossFormats) {
  struct Case {
    std::vector<int> widths;
    std::vector<std::string> formats;
    std::vector<std::string> variants;
  };
  const Case table[] = {
      {{320, 640}, {"avif", "webp"}, {"w=320&f=avif", "w=320&f=webp", "w=640&f=avif", "w=640&f=webp"}},
      {{320}, {}, {"w=320"}},
      {{}, {"webp"}, {"f=webp"}},
      {{}, {}, {""}},
  };
  for (const auto& row : table) EXPECT_EQ(warm_variants(row.widths, row.formats), row.variants);
}

TEST(WarmPlanTest, ManifestLines) {
  EXPECT_EQ(parse_manifest("# products\n/a.jpg\n\n  b/c d.png  \r\n#x\ne.gif"),
            (std::vector<std::string>{"a.jpg", "b/c d.png", "e.gif"}));
}

TEST(WarmPlanTest, APrefixListsEveryPage) {
  test::MemoryStorage store;
  for (int i = 0; i < 2500; ++i) store.put("p/" + std::to_string(10000 + i) + ".jpg", "x", {});
  store.put("q.jpg", "x", {});
  store.put("_imageflex/v3/p/1.jpg/x/w=1", "x", {});
  EXPECT_EQ(list_originals(store, "p/").size(), 2500u);
  EXPECT_EQ(list_originals(store, "").size(), 2501u);
}

}  // namespace
}  // namespace imageflex
