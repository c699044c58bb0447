// The command line: --help, configuration errors, precedence, `convert`, the start-up log.
#include "common/allocator.h"
#include "common/config.h"
#include "integration.h"
#include "request/parameters.h"

namespace imageflex::test {
namespace {

TEST(CliTest, HelpListsEverySettingWithItsDefault) {
  auto result = run_command({imageflex_binary(), "--help"});
  EXPECT_EQ(result.status, 0);
  for (const auto& s : settings()) {
    EXPECT_NE(result.output.find("--" + s.flag), std::string::npos) << s.flag;
    EXPECT_NE(result.output.find(s.env), std::string::npos) << s.env;
    EXPECT_NE(result.output.find("[" + s.default_value + "]"), std::string::npos) << s.flag;
  }
}

TEST(CliTest, TheReadmeDocumentsEverySetting) {
  const std::string readme = read_file(source_dir() + "/README.md");
  for (const auto& s : settings()) {
    EXPECT_NE(readme.find("`--" + s.flag + "`"), std::string::npos) << s.flag;
    EXPECT_NE(readme.find("`" + s.env + "`"), std::string::npos) << s.env;
  }
}

// The URL parameters have one table (request/parameters.h); --help, `imageflex params` (what
// an edge keys on) and the README's URL API table are its copies, so each must list every row.
TEST(CliTest, HelpParamsAndTheReadmeListEveryUrlParameter) {
  const auto help = run_command({imageflex_binary(), "--help"});
  const auto params = run_command({imageflex_binary(), "params"});
  EXPECT_EQ(params.status, 0);
  const std::string readme = read_file(source_dir() + "/README.md");
  const auto api = readme.substr(readme.find("## The URL API"));
  std::vector<UrlParameter> rows(kImageParameters.begin(), kImageParameters.end());
  rows.insert(rows.end(), kSignatureParameters.begin(), kSignatureParameters.end());
  std::string expected;
  for (const auto& p : rows) {
    const std::string name(p.name);
    expected += name + "\n";
    EXPECT_NE(help.output.find("  " + name + "=" + std::string(p.values)), std::string::npos) << name;
    EXPECT_NE(api.find("| `" + name + "` |"), std::string::npos) << name << " has no row in the README";
  }
  EXPECT_EQ(params.output, expected);
}

TEST(CliTest, BadConfigurationFailsAtStartNamingTheSetting) {
  struct Case {
    std::vector<std::string> args;
    std::map<std::string, std::string> env;
    std::string named;
  };
  const Case table[] = {
      {{"--workers", "many"}, {}, "workers"},
      {{"--listen", "nowhere"}, {}, "listen"},
      {{}, {{"IF_QUALITY_WEBP", "200"}}, "quality-webp"},
      {{"--root", "/no/such/folder"}, {}, "root"},
      {{"--storage", "s3://"}, {}, "bucket"},
      {{"--frobnicate", "1"}, {}, "frobnicate"},
      {{"--presets", "/no/such/presets.conf"}, {}, "invalid presets: /no/such/presets.conf"},
      {{"--presets-only", "true"}, {}, "presets-only"},
  };
  for (const auto& row : table) {
    std::vector<std::string> argv = {imageflex_binary(), "serve"};
    argv.insert(argv.end(), row.args.begin(), row.args.end());
    auto result = run_command(argv, row.env);
    EXPECT_NE(result.status, 0) << row.named;
    EXPECT_NE(result.output.find(row.named), std::string::npos) << result.output;
  }
}

TEST(CliTest, FlagsWinOverTheEnvironment) {
  const std::string root = make_temp_dir();
  write_file(root + "/landscape.jpg", fixture("landscape.jpg"));
  // IF_LISTEN and IF_ROOT are wrong, but the flags given override them.
  ServerProcess server({"--root", root}, {{"IF_LISTEN", "nowhere"}, {"IF_ROOT", "/no/such/folder"}});
  HttpClient client;
  EXPECT_EQ(client.get(server.url("/landscape.jpg")).status, 200);
  server.stop();
  remove_tree(root);
}

TEST(CliTest, ConvertMakesWhatTheServerMakes) {
  const std::string dir = make_temp_dir();
  write_file(dir + "/landscape.jpg", fixture("landscape.jpg"));
  auto result =
      run_command({imageflex_binary(), "convert", dir + "/landscape.jpg", dir + "/out.webp", "w=200"});
  ASSERT_EQ(result.status, 0) << result.output;
  const std::string converted = read_file(dir + "/out.webp");
  Decoded d = decode(converted);
  EXPECT_EQ(d.loader, "webpload");
  EXPECT_EQ(d.width, 200);
  EXPECT_EQ(d.height, 150);

  ServerProcess server({"--root", dir});
  HttpClient client;
  auto served = client.get(server.url("/landscape.jpg?w=200&f=webp"));
  EXPECT_EQ(served.body, converted) << "one pipeline: the CLI and the server agree byte for byte";

  auto bad = run_command({imageflex_binary(), "convert", dir + "/landscape.jpg", dir + "/x.png", "w=abc"});
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("w must be"), std::string::npos) << bad.output;
  server.stop();
  remove_tree(dir);
}

// The server runs on the allocator this build chose (jemalloc with its background purging, or
// glibc in sanitizer builds), says so at start, and really has it loaded.
TEST(CliTest, TheServerRunsOnTheChosenAllocatorAndLogsIt) {
  const std::string dir = make_temp_dir();
  ServerProcess server({"--root", dir});
  const std::string expected = describe_allocator();
  EXPECT_TRUE(server.wait_for_output("\"allocator\":\"" +
                                     std::regex_replace(expected, std::regex(R"([()])"), R"(\$&)")))
      << "expected " << expected << " in: " << server.output();
  const std::string maps = read_file("/proc/" + std::to_string(server.pid()) + "/maps");
  EXPECT_EQ(maps.find("libjemalloc.so") != std::string::npos, expected.rfind("jemalloc", 0) == 0) << expected;
  server.stop();
  remove_tree(dir);
}

}  // namespace
}  // namespace imageflex::test
