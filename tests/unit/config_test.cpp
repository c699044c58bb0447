#include "common/config.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace imageflex {
namespace {

TEST(ConfigTest, DefaultsEnvironmentThenFlags) {
  Config defaults = load_config({}, {});
  EXPECT_EQ(defaults.listen, "127.0.0.1:8080");
  EXPECT_GE(defaults.workers, 1);  // 0 means "number of cores"

  Config from_env = load_config({}, {{"IF_ROOT", "/srv/a"}, {"IF_LISTEN", "0.0.0.0:9000"}});
  EXPECT_EQ(from_env.root, "/srv/a");
  EXPECT_EQ(from_env.listen, "0.0.0.0:9000");

  Config flags_win = load_config({{"root", "/srv/b"}}, {{"IF_ROOT", "/srv/a"}, {"IF_QUALITY_JPEG", "70"}});
  EXPECT_EQ(flags_win.root, "/srv/b");
  EXPECT_EQ(flags_win.quality.jpeg, 70);

  EXPECT_TRUE(defaults.lambda_streaming);
  EXPECT_FALSE(load_config({}, {{"IF_LAMBDA_RESPONSE_MODE", "buffered"}}).lambda_streaming);
}

TEST(ConfigTest, BadValuesNameTheSetting) {
  const std::pair<std::map<std::string, std::string>, std::string> flags_table[] = {
      {{{"workers", "abc"}}, "workers"},
      {{{"listen", "nowhere"}}, "listen"},
      {{{"listen", "127.0.0.1:99999"}}, "listen"},
      {{{"quality-avif", "0"}}, "quality-avif"},
      {{{"max-frames", "-3"}}, "max-frames"},
      {{{"storage", "ftp://x"}}, "storage"},
      {{{"no-such-setting", "1"}}, "no-such-setting"},
      {{{"lambda-response-mode", "BUFFERED"}}, "lambda-response-mode"},
  };
  for (const auto& [flags, name] : flags_table) {
    try {
      load_config(flags, {});
      ADD_FAILURE() << name << " accepted";
    } catch (const std::invalid_argument& error) {
      EXPECT_NE(std::string(error.what()).find(name), std::string::npos) << error.what();
    }
  }
  EXPECT_THROW(load_config({}, {{"IF_DEADLINE_MS", "soon"}}), std::invalid_argument);
}

TEST(ConfigTest, EverySettingHasFlagEnvAndHelp) {
  for (const auto& s : settings()) {
    EXPECT_FALSE(s.flag.empty());
    EXPECT_EQ(s.env.rfind("IF_", 0), 0u) << s.env;
    EXPECT_FALSE(s.help.empty()) << s.flag;
  }
}

}  // namespace
}  // namespace imageflex
