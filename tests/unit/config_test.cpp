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
      {{{"sign-keys", "too-short"}}, "sign-keys"},
      {{{"sign-keys", std::string(32, 'k') + ",,"}}, "sign-keys"},
      {{{"sign-originals", "maybe"}}, "sign-originals"},
      {{{"allowed-widths", "100,abc"}}, "allowed-widths"},
      {{{"allowed-heights", "0"}}, "allowed-heights"},
      {{{"allowed-widths", "100,9000"}}, "allowed-widths"},  // beyond max-output-dimension
      {{{"size-step", "9000"}}, "size-step"},
      {{{"size-policy", "round-down"}}, "size-policy"},
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

TEST(ConfigTest, UrlGuardsAreOffByDefaultAndParsed) {
  const Config defaults = load_config({}, {});
  EXPECT_TRUE(defaults.url_guards.signing.keys.empty());
  EXPECT_TRUE(defaults.url_guards.sizes.widths.empty());
  EXPECT_EQ(defaults.url_guards.sizes.step, 0);

  const std::string a(32, 'a');
  const std::string b = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  const Config config = load_config({{"allowed-widths", "400, 100,200,100"}, {"size-policy", "refuse"}},
                                    {{"IF_SIGN_KEYS", a + " , " + b},
                                     {"IF_SIGN_ORIGINALS", "false"},
                                     {"IF_ALLOWED_HEIGHTS", "50"},
                                     {"IF_SIZE_STEP", "10"}});
  EXPECT_EQ(config.url_guards.signing.keys, (std::vector<std::string>{a, b}));
  EXPECT_FALSE(config.url_guards.signing.sign_originals);
  EXPECT_EQ(config.url_guards.sizes.widths, (std::vector<int>{100, 200, 400}));
  EXPECT_EQ(config.url_guards.sizes.heights, std::vector<int>{50});
  EXPECT_EQ(config.url_guards.sizes.step, 10);
  EXPECT_EQ(config.url_guards.sizes.policy, SizePolicy::kRefuse);
  // A bad key is named by position and length, never echoed.
  try {
    load_config({{"sign-keys", a + ",secret-but-short"}}, {});
    ADD_FAILURE();
  } catch (const std::invalid_argument& error) {
    EXPECT_EQ(std::string(error.what()).find("secret-but-short"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("key 2"), std::string::npos) << error.what();
  }
}

TEST(ConfigTest, EverySettingHasFlagEnvAndHelp) {
  for (const auto& s : settings()) {
    EXPECT_FALSE(s.flag.empty());
    // Ours are IF_*; the AWS ones keep the names the AWS SDKs and CLI read.
    EXPECT_TRUE(s.env.rfind("IF_", 0) == 0 || s.env.rfind("AWS_", 0) == 0) << s.env;
    EXPECT_FALSE(s.help.empty()) << s.flag;
  }
}

TEST(ConfigTest, S3AndAwsSettingsComeFromTheirVariables) {
  const Config config = load_config({{"aws-profile", "from-flag"}},
                                    {{"IF_S3_ENDPOINT", "http://127.0.0.1:9000"},
                                     {"IF_S3_ADDRESSING", "virtual"},
                                     {"AWS_REGION", "eu-west-1"},
                                     {"AWS_DEFAULT_REGION", "eu-north-1"},
                                     {"AWS_ACCESS_KEY_ID", "AKID"},
                                     {"AWS_SECRET_ACCESS_KEY", "SECRET"},
                                     {"AWS_SESSION_TOKEN", "TOKEN"},
                                     {"AWS_PROFILE", "from-env"},
                                     {"AWS_SHARED_CREDENTIALS_FILE", "/etc/aws/credentials"},
                                     {"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/id"},
                                     {"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:1/creds"},
                                     {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer t"},
                                     {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "/var/run/token"},
                                     {"AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://[fd00:ec2::254]"},
                                     {"AWS_EC2_METADATA_DISABLED", "TRUE"},
                                     {"HOME", "/home/images"}});
  EXPECT_EQ(config.s3.endpoint, "http://127.0.0.1:9000");
  EXPECT_EQ(config.s3.addressing, "virtual");
  EXPECT_EQ(config.s3.region, "eu-west-1");
  EXPECT_EQ(config.s3.default_region, "eu-north-1");
  EXPECT_EQ(config.aws.access_key_id, "AKID");
  EXPECT_EQ(config.aws.secret_access_key, "SECRET");
  EXPECT_EQ(config.aws.session_token, "TOKEN");
  EXPECT_EQ(config.aws.profile, "from-flag");
  EXPECT_EQ(config.aws.shared_credentials_file, "/etc/aws/credentials");
  EXPECT_EQ(config.aws.home, "/home/images");
  EXPECT_EQ(config.aws.container_credentials_relative_uri, "/v2/credentials/id");
  EXPECT_EQ(config.aws.container_credentials_full_uri, "http://127.0.0.1:1/creds");
  EXPECT_EQ(config.aws.container_authorization_token, "Bearer t");
  EXPECT_EQ(config.aws.container_authorization_token_file, "/var/run/token");
  EXPECT_EQ(config.aws.ec2_metadata_service_endpoint, "http://[fd00:ec2::254]");
  EXPECT_TRUE(config.aws.ec2_metadata_disabled);

  const Config defaults = load_config({}, {});
  EXPECT_EQ(defaults.s3.default_region, "us-east-1");
  EXPECT_EQ(defaults.aws.profile, "default");
  EXPECT_FALSE(defaults.aws.ec2_metadata_disabled);
  EXPECT_FALSE(load_config({}, {{"AWS_EC2_METADATA_DISABLED", ""}}).aws.ec2_metadata_disabled);
  // The spool folder: its own variable, else TMPDIR, else /tmp.
  EXPECT_EQ(defaults.s3.spool_dir, "/tmp");
  EXPECT_EQ(load_config({}, {{"TMPDIR", "/var/tmp"}}).s3.spool_dir, "/var/tmp");
  EXPECT_EQ(load_config({}, {{"TMPDIR", "/var/tmp"}, {"IF_S3_SPOOL_DIR", "/srv/spool"}}).s3.spool_dir,
            "/srv/spool");
}

TEST(ConfigTest, BadS3ValuesNameTheSetting) {
  EXPECT_THROW(load_config({}, {{"AWS_EC2_METADATA_DISABLED", "perhaps"}}), std::invalid_argument);
  try {
    load_config({{"s3-addressing", "sideways"}}, {});
    ADD_FAILURE() << "s3-addressing accepted";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("s3-addressing"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace imageflex
