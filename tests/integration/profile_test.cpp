// Environment profiles through the real binary: `imageflex config` says what is in effect
// and where it came from; a bad profile stops the start naming file, line and setting.
#include <sstream>

#include "integration.h"

namespace imageflex::test {
namespace {

TEST(ProfileTest, ConfigPrintsEachSettingsSource) {
  const std::string config_dir = source_dir() + "/config";
  auto result =
      run_command({imageflex_binary(), "config", "--env", "prod", "--config-dir", config_dir, "--queue", "7"},
                  {{"IF_SIGN_KEYS", std::string(32, 's')}, {"IF_MEMORY_CACHE_MB", "12"}});
  ASSERT_EQ(result.status, 0) << result.output;
  const std::string& out = result.output;
  EXPECT_NE(out.find("# environment prod, profile " + config_dir + "/prod.toml"), std::string::npos) << out;
  // One line per setting: flag, then variable, then profile, then default.
  EXPECT_NE(out.find("queue = 7"), std::string::npos) << out;
  EXPECT_NE(out.find("# flag --queue"), std::string::npos) << out;
  EXPECT_NE(out.find("memory-cache-mb = 12"), std::string::npos) << out;
  EXPECT_NE(out.find("# environment IF_MEMORY_CACHE_MB"), std::string::npos) << out;
  EXPECT_NE(out.find("playground = false"), std::string::npos) << out;
  EXPECT_NE(out.find("# profile " + config_dir + "/prod.toml:"), std::string::npos) << out;
  EXPECT_NE(out.find("# max-frames = 200"), std::string::npos) << out;
  // A secret shows as set, never its value.
  EXPECT_NE(out.find("sign-keys = \"<set>\""), std::string::npos) << out;
  EXPECT_EQ(out.find(std::string(32, 's')), std::string::npos) << out;
}

TEST(ProfileTest, TheShippedProfilesLoad) {
  for (const std::string env : {"dev", "staging", "prod"}) {
    auto result =
        run_command({imageflex_binary(), "config", "--env", env, "--config-dir", source_dir() + "/config"},
                    {{"IF_SIGN_KEYS", std::string(32, 's')}});
    EXPECT_EQ(result.status, 0) << env << ": " << result.output;
    EXPECT_NE(result.output.find("playground = " + std::string(env == "prod" ? "false" : "true")),
              std::string::npos)
        << result.output;
  }
  // prod expects signing keys: without them it does not start.
  auto unsigned_prod =
      run_command({imageflex_binary(), "serve", "--env", "prod", "--config-dir", source_dir() + "/config"});
  EXPECT_NE(unsigned_prod.status, 0);
  EXPECT_NE(unsigned_prod.output.find("sign-keys"), std::string::npos) << unsigned_prod.output;
}

TEST(ProfileTest, ABadProfileStopsTheStartNamingFileLineAndSetting) {
  const std::string dir = make_temp_dir();
  struct Case {
    std::string text;
    std::string message;
  };
  const Case table[] = {
      {"queue = 8\n\nmax-frmaes = 10\n", dir + "/staging.toml:3: unknown setting 'max-frmaes'"},
      {"# ok\nqueue = \"lots\"\n", dir + "/staging.toml:2: setting queue: invalid queue 'lots'"},
  };
  for (const auto& row : table) {
    write_file(dir + "/staging.toml", row.text);
    auto result = run_command({imageflex_binary(), "serve", "--listen", "127.0.0.1:0"},
                              {{"IF_ENV", "staging"}, {"IF_CONFIG_DIR", dir}});
    EXPECT_NE(result.status, 0);
    EXPECT_NE(result.output.find(row.message), std::string::npos) << result.output;
  }
  // A named environment without its profile stops the start too.
  auto missing = run_command({imageflex_binary(), "serve", "--env", "prod", "--config-dir", dir});
  EXPECT_NE(missing.status, 0);
  EXPECT_NE(missing.output.find(dir + "/prod.toml"), std::string::npos) << missing.output;
  remove_tree(dir);
}

// With the shipped staging profile, every JSON line the process writes (the start-up line,
// the access log, events) and the metrics' build info name the environment.
TEST(ProfileTest, TheEnvironmentIsNamedInLogsAndMetrics) {
  ServiceUnderTest service(Backend::kFilesystem,
                           {"--env", "staging", "--config-dir", source_dir() + "/config"});
  expect_image(service.get("/landscape.jpg?w=64&f=png"), "pngload", 64, 48);
  EXPECT_EQ(service.get("/missing.jpg").status, 404);
  auto metrics = service.get("/_imageflex/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("imageflex_build_info{version=\"" + std::string(IMAGEFLEX_VERSION) +
                              "\",env=\"staging\"} 1"),
            std::string::npos)
      << metrics.body;
  ASSERT_TRUE(service.server().wait_for_output(R"("path":"/_imageflex/metrics")"))
      << service.server().output();

  const std::string output = service.server().output();
  std::istringstream lines(output);
  int json_lines = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] != '{') continue;  // libvips may write plain text
    ++json_lines;
    EXPECT_NE(line.find(R"("env":"staging")"), std::string::npos) << line;
  }
  // The start-up line, and the access log of the three requests.
  EXPECT_GE(json_lines, 4) << output;
  EXPECT_NE(output.find(R"("env":"staging","time":)"), std::string::npos) << output;
  EXPECT_NE(output.find(R"("profile":")" + source_dir() + "/config/staging.toml\""), std::string::npos)
      << output;
}

}  // namespace
}  // namespace imageflex::test
