// S3Storage's own duties: the key prefix, checking its configuration once at
// construction, and turning a store it cannot reach into kStoreUnavailable. How it
// maps each S3 answer is in s3_retry_test.cpp (scripted) and the storage contract
// suite (real Swift).
#include "storage/s3_storage.h"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>

#include "common/config.h"
#include "common/error.h"
#include "scripted_server.h"

namespace imageflex {
namespace {

std::shared_ptr<AwsCredentialsProvider> keys() {
  return static_credentials({"test:tester", "testing", ""});
}

S3Config local_config(int port) {
  S3Config config;
  config.bucket = "images";
  config.prefix = "/originals/";
  config.endpoint = "http://127.0.0.1:" + std::to_string(port);
  return config;
}

TEST(S3Storage, DescribeAndValidation) {
  EXPECT_EQ(S3Storage(local_config(9), keys()).describe(), "s3://images/originals");
  EXPECT_EQ(S3Storage(s3_config_from("s3://images/originals/2024/", {}), keys()).describe(),
            "s3://images/originals/2024");

  S3Config config = local_config(9);
  config.bucket.clear();
  EXPECT_THROW(S3Storage(config, keys()), std::invalid_argument);
  EXPECT_THROW(S3Storage(local_config(9), static_credentials({"test:tester", "", ""})),
               std::invalid_argument);
  config = local_config(9);
  config.endpoint = "127.0.0.1:9000";
  EXPECT_THROW(S3Storage(config, keys()), std::invalid_argument);
}

TEST(S3Storage, TheConfigurationIsCheckedBeforeCredentialsAreSought) {
  // A wrong bucket is reported as such, not as missing credentials (which would also
  // mean asking metadata endpoints first; this one is on loopback, with nothing there).
  AwsSettings no_credentials;
  no_credentials.ec2_metadata_service_endpoint = "http://127.0.0.1:" + std::to_string(test::closed_port());
  try {
    const S3Storage storage(s3_config_from("s3://", {}), aws_credential_chain(no_credentials));
    ADD_FAILURE() << "no bucket accepted: " << storage.describe();
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("bucket"), std::string::npos) << error.what();
  }
}

TEST(S3Storage, UnreachableStoreIsUnavailableAfterRetries) {
  S3Storage storage(local_config(test::closed_port()), keys());
  const auto start = std::chrono::steady_clock::now();
  try {
    storage.stat("a.jpg");
    FAIL() << "stat on a closed port returned";
  } catch (const Error& error) {
    EXPECT_EQ(error.kind(), ErrorKind::kStoreUnavailable);
    const std::string reason = error.what();
    EXPECT_EQ(reason.rfind("storage unavailable: ", 0), 0u) << reason;
    EXPECT_NE(reason.find("after 4 attempts"), std::string::npos) << reason;
    EXPECT_EQ(reason.find("127.0.0.1"), std::string::npos) << reason;
    EXPECT_EQ(reason.find("tester"), std::string::npos) << reason;
  }
  // Three backoffs of at most 50, 100 and 200 ms.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

}  // namespace
}  // namespace imageflex
