// Where the bucket is: the S3 settings (flags and environment through the settings
// table) → S3Config → the one check that judges it.
#include "storage/s3_config.h"

#include <gtest/gtest.h>

#include <map>
#include <stdexcept>
#include <string>

#include "common/config.h"

namespace imageflex {
namespace {

using Environment = std::map<std::string, std::string>;

S3Config s3_from(const Environment& environment, const std::string& url = "s3://images") {
  return s3_config_from(url, load_config({}, environment).s3);
}

// The message of the std::invalid_argument that loading, building or checking throws;
// "" if all three pass.
std::string error_of(const Environment& environment, const std::string& url = "s3://images") {
  try {
    check_s3_config(s3_from(environment, url));
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return "";
}

TEST(S3ConfigTest, BucketAndPrefix) {
  S3Config config = s3_from({});
  EXPECT_EQ(config.bucket, "images");
  EXPECT_EQ(config.prefix, "");

  config = s3_from({}, "s3://images/originals/2024/");
  EXPECT_EQ(config.bucket, "images");
  EXPECT_EQ(config.prefix, "/originals/2024/") << "kept as given: S3Storage ignores the slashes";
}

TEST(S3ConfigTest, MissingOrBadBucket) {
  EXPECT_NE(error_of({}, "s3://").find("bucket"), std::string::npos);
  EXPECT_NE(error_of({}, "s3:///prefix").find("bucket"), std::string::npos);
  EXPECT_THROW(s3_from({}, "file:/srv"), std::invalid_argument);
  EXPECT_NE(error_of({}, "s3://bad bucket"), "");
  EXPECT_EQ(error_of({}, "s3://Images_2"), "") << "S3-compatible stores accept these";
}

TEST(S3ConfigTest, DefaultsForAws) {
  const S3Config config = s3_from({});
  EXPECT_EQ(config.endpoint, "");
  EXPECT_EQ(config.region, "us-east-1");
  EXPECT_FALSE(config.path_style);
  EXPECT_EQ(check_s3_config(config).scheme, "https");
  EXPECT_EQ(check_s3_config(config).host_header, "images.s3.us-east-1.amazonaws.com");
  // A dotted bucket name does not match the *.s3 certificate: path style.
  EXPECT_TRUE(s3_from({}, "s3://my.images").path_style);
}

TEST(S3ConfigTest, EndpointRegionAndAddressing) {
  Environment environment = {{"IF_S3_ENDPOINT", "http://127.0.0.1:8080"},
                             {"AWS_DEFAULT_REGION", "eu-west-1"}};
  S3Config config = s3_from(environment);
  EXPECT_EQ(config.endpoint, "http://127.0.0.1:8080");
  EXPECT_EQ(config.region, "eu-west-1");
  EXPECT_TRUE(config.path_style);
  EXPECT_EQ(check_s3_config(config).host_header, "127.0.0.1:8080");

  environment["AWS_REGION"] = "eu-central-1";  // wins over AWS_DEFAULT_REGION
  environment["IF_S3_ADDRESSING"] = "virtual";
  config = s3_from(environment);
  EXPECT_EQ(config.region, "eu-central-1");
  EXPECT_FALSE(config.path_style);
  EXPECT_EQ(check_s3_config(config).host_header, "images.127.0.0.1:8080");

  // Flags win over the environment, as for every setting.
  const Config flags = load_config({{"s3-region", "ap-south-1"}, {"s3-addressing", "path"}}, environment);
  EXPECT_EQ(s3_config_from("s3://images", flags.s3).region, "ap-south-1");
  EXPECT_TRUE(s3_config_from("s3://images", flags.s3).path_style);

  environment["IF_S3_ADDRESSING"] = "sideways";
  EXPECT_NE(error_of(environment).find("IF_S3_ADDRESSING"), std::string::npos);
  EXPECT_THROW(s3_from(environment), std::invalid_argument);
}

TEST(S3ConfigTest, EmptyRegionVariablesMeanTheDefault) {
  EXPECT_EQ(s3_from({{"AWS_REGION", ""}, {"AWS_DEFAULT_REGION", ""}}).region, "us-east-1");
}

TEST(S3ConfigTest, BadRegionNamesTheSetting) {
  EXPECT_NE(error_of({{"AWS_REGION", "eu west"}}).find("AWS_REGION"), std::string::npos);
  EXPECT_NE(error_of({{"AWS_REGION", "x/../y"}}).find("AWS_REGION"), std::string::npos);
}

TEST(S3ConfigTest, BadEndpointNamesTheSetting) {
  for (const char* endpoint : {"127.0.0.1:8080", "ftp://host", "http://", "http://host:99999",
                               "http://host/path", "http://user@host", "http://[::1", "http://host:"}) {
    EXPECT_NE(error_of({{"IF_S3_ENDPOINT", endpoint}}).find("IF_S3_ENDPOINT"), std::string::npos) << endpoint;
  }
  for (const char* endpoint :
       {"https://s3.eu-west-1.amazonaws.com", "http://[::1]:9000/", "http://localhost"}) {
    EXPECT_EQ(error_of({{"IF_S3_ENDPOINT", endpoint}}), "") << endpoint;
  }
}

TEST(S3ConfigTest, DefaultPortsStayOutOfHost) {
  S3Config config = s3_from({{"IF_S3_ENDPOINT", "http://minio.local:80"}});
  EXPECT_EQ(check_s3_config(config).host_header, "minio.local");
  config = s3_from({{"IF_S3_ENDPOINT", "https://[::1]:443"}});
  EXPECT_EQ(check_s3_config(config).host_header, "[::1]");
  config = s3_from({{"IF_S3_ENDPOINT", "https://[::1]:9443"}});
  EXPECT_EQ(check_s3_config(config).host_header, "[::1]:9443");
}

}  // namespace
}  // namespace imageflex
