// Environment profiles: the strict TOML subset, and the order flag > variable > profile > default.
#include "common/profile.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "common/config.h"

namespace imageflex {
namespace {

TEST(ProfileTest, ParsesTheSubsetIntoFlagText) {
  const auto entries = parse_profile(
      "# a comment\n"
      "\n"
      "root = \"/srv/a b\"   # trailing comment\n"
      "workers=4\n"
      "access-log = false\n"
      "allowed-widths = [320, 640 ,1280,]\n"
      "cache-control-variant = \"public, \\\"x\\\" \\\\ # not a comment\"\r\n"
      "size-step = -1\n",
      "p.toml");
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"root", "/srv/a b"},
      {"workers", "4"},
      {"access-log", "false"},
      {"allowed-widths", "320,640,1280"},
      {"cache-control-variant", "public, \"x\" \\ # not a comment"},
      {"size-step", "-1"},
  };
  ASSERT_EQ(entries.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(entries[i].key, expected[i].first);
    EXPECT_EQ(entries[i].value, expected[i].second);
  }
  EXPECT_EQ(entries[0].line, 3);
  EXPECT_EQ(entries[5].line, 8);
}

TEST(ProfileTest, RejectsWhatItDoesNotUnderstandNamingTheLine) {
  const std::pair<std::string, std::string> table[] = {
      {"[server]\n", "p.toml:1: tables"},
      {"root\n", "p.toml:1: expected '='"},
      {"\nroot = /srv\n", "p.toml:2: bad value '/srv'"},
      {"root = \"open\n", "p.toml:1: unterminated string"},
      {"root = \"a\" \"b\"\n", "p.toml:1: unexpected text"},
      {"workers = 1\nworkers = 2\n", "p.toml:2: workers is set twice (first on line 1)"},
      {"a.b = 1\n", "p.toml:1: expected '='"},
      {"root = \"\\q\"\n", "p.toml:1: unknown escape"},
      {"widths = [1, 2\n", "p.toml:1: expected ','"},
      {" = 1\n", "p.toml:1: expected setting = value"},
      {"workers = 1.5\n", "p.toml:1: bad value '1.5'"},
  };
  for (const auto& [text, message] : table) {
    try {
      parse_profile(text, "p.toml");
      ADD_FAILURE() << text << " accepted";
    } catch (const std::invalid_argument& error) {
      EXPECT_NE(std::string(error.what()).find(message), std::string::npos) << error.what();
    }
  }
}

// A reader over an in-memory folder of profiles.
ProfileReader files(std::map<std::string, std::string> contents) {
  return [contents](const std::string& path) -> std::optional<std::string> {
    auto found = contents.find(path);
    if (found == contents.end()) return std::nullopt;
    return found->second;
  };
}

TEST(ProfileTest, FlagThenVariableThenProfileThenDefault) {
  const auto reader = files({{"config/dev.toml", "queue = 10\nio-threads = 3\nhandler-threads = 5\n"},
                             {"config/prod.toml", "queue = 99\nplayground = false\n"},
                             {"/etc/if/staging.toml", "queue = 7\n"}});
  struct Case {
    std::map<std::string, std::string> flags;
    std::map<std::string, std::string> env;
    int queue;
    SettingSource source;
    std::string where;
  };
  const Case table[] = {
      {{}, {}, 10, SettingSource::kProfile, "config/dev.toml:1"},
      {{}, {{"IF_QUEUE", "20"}}, 20, SettingSource::kEnvironment, "IF_QUEUE"},
      {{{"queue", "30"}}, {{"IF_QUEUE", "20"}}, 30, SettingSource::kFlag, "--queue"},
      {{{"env", "prod"}}, {}, 99, SettingSource::kProfile, "config/prod.toml:1"},
      {{}, {{"IF_ENV", "prod"}}, 99, SettingSource::kProfile, "config/prod.toml:1"},
      {{{"env", "staging"}},
       {{"IF_CONFIG_DIR", "/etc/if"}},
       7,
       SettingSource::kProfile,
       "/etc/if/staging.toml:1"},
      {{{"env", "dev"}, {"config-dir", "/nowhere-but-default"}}, {}, 64, SettingSource::kDefault, ""},
  };
  for (const auto& row : table) {
    SCOPED_TRACE(row.where);
    ResolvedConfig resolved;
    try {
      resolved = resolve_config(row.flags, row.env, reader);
    } catch (const std::invalid_argument& error) {
      // Only the last row names a folder without the profile: that is an error, not the default.
      EXPECT_EQ(row.source, SettingSource::kDefault);
      EXPECT_NE(std::string(error.what()).find("/nowhere-but-default/dev.toml"), std::string::npos);
      continue;
    }
    EXPECT_EQ(resolved.config.queue, row.queue);
    const auto origin = std::find_if(resolved.origins.begin(), resolved.origins.end(),
                                     [](const auto& o) { return o.info->flag == "queue"; });
    ASSERT_NE(origin, resolved.origins.end());
    EXPECT_EQ(origin->source, row.source);
    EXPECT_EQ(origin->where, row.where);
  }
  // The profile's other settings, and the environment's name and file.
  const auto dev = resolve_config({}, {}, reader);
  EXPECT_EQ(dev.config.env, "dev");
  EXPECT_EQ(dev.config.profile, "config/dev.toml");
  EXPECT_EQ(dev.config.io_threads, 3);
  EXPECT_TRUE(dev.config.playground);
  EXPECT_FALSE(resolve_config({{"env", "prod"}}, {}, reader).config.playground);
}

TEST(ProfileTest, NoProfileIsFineOnlyForTheDefaultEnvironment) {
  const auto none = files({});
  const auto defaults = resolve_config({}, {}, none);
  EXPECT_EQ(defaults.config.env, "dev");
  EXPECT_EQ(defaults.config.profile, "");
  EXPECT_EQ(defaults.config.queue, 64);
  EXPECT_THROW(resolve_config({{"env", "prod"}}, {}, none), std::invalid_argument);
  EXPECT_THROW(resolve_config({}, {{"IF_ENV", "dev"}}, none), std::invalid_argument);
}

TEST(ProfileTest, BadProfilesNameFileLineAndSetting) {
  const std::pair<std::string, std::string> table[] = {
      {"queue = 1\nwrokers = 4\n", "config/dev.toml:2: unknown setting 'wrokers'"},
      {"\n\nworkers = \"many\"\n", "config/dev.toml:3: setting workers: invalid workers 'many'"},
      {"playground = 3\n", "config/dev.toml:1: setting playground"},
      {"env = \"prod\"\n", "config/dev.toml:1: env picks the profile"},
      {"listen = nowhere\n", "config/dev.toml:1: bad value 'nowhere'"},
  };
  for (const auto& [text, message] : table) {
    try {
      resolve_config({}, {}, files({{"config/dev.toml", text}}));
      ADD_FAILURE() << text << " accepted";
    } catch (const std::invalid_argument& error) {
      EXPECT_NE(std::string(error.what()).find(message), std::string::npos) << error.what();
    }
  }
  // A bad environment name is refused with the names that exist (as deploy/aws does).
  try {
    resolve_config({{"env", "production"}}, {}, files({}));
    ADD_FAILURE();
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("use one of dev, staging, prod"), std::string::npos);
  }
}

TEST(ProfileTest, RequireSigningNeedsKeys) {
  const auto prod = files({{"config/prod.toml", "require-signing = true\n"}});
  EXPECT_THROW(resolve_config({{"env", "prod"}}, {}, prod), std::invalid_argument);
  const auto signed_prod = resolve_config({{"env", "prod"}}, {{"IF_SIGN_KEYS", std::string(32, 'k')}}, prod);
  EXPECT_TRUE(signed_prod.config.require_signing);
}

}  // namespace
}  // namespace imageflex
