// Shared set-up for the integration tests: each test gets a fresh imageflex process
// over a fresh store, once per backend (a folder, and a bucket on the real Swift S3).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "fixtures.h"
#include "image_check.h"
#include "service.h"

namespace imageflex::test {

class ServiceTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    service_ = std::make_unique<ServiceUnderTest>(GetParam(), server_args(), server_env());
  }
  void TearDown() override { service_.reset(); }
  virtual std::vector<std::string> server_args() { return {}; }
  virtual std::map<std::string, std::string> server_env() { return {}; }

  ServiceUnderTest& service() { return *service_; }
  HttpResponse get(const std::string& path, const std::vector<std::string>& headers = {}) {
    return service_->get(path, headers);
  }

 private:
  std::unique_ptr<ServiceUnderTest> service_;
};

inline std::string backend_label(const ::testing::TestParamInfo<Backend>& info) {
  return backend_name(info.param);
}

#define IMAGEFLEX_ON_EVERY_BACKEND(suite)                                                          \
  INSTANTIATE_TEST_SUITE_P(                                                                        \
      Backends, suite,                                                                             \
      ::testing::Values(::imageflex::test::Backend::kFilesystem, ::imageflex::test::Backend::kS3), \
      ::imageflex::test::backend_label)

// Asserts a 200 image response of this loader ("jpegload", "webpload", ...) and size.
inline Decoded expect_image(const HttpResponse& response, const std::string& loader, int width, int height) {
  EXPECT_EQ(response.status, 200) << response.body.substr(0, 200);
  if (response.status != 200) return {};
  Decoded d = decode(response.body);
  EXPECT_EQ(d.loader, loader);
  EXPECT_EQ(d.width, width);
  EXPECT_EQ(d.height, height);
  return d;
}

inline std::vector<double> rgb(const double (&colour)[3]) {
  return {colour[0], colour[1], colour[2]};
}

// The first three bands of a measured colour (drops alpha).
inline std::vector<double> rgb_of(std::vector<double> measured) {
  if (measured.size() == 1) return {measured[0], measured[0], measured[0]};
  measured.resize(3);
  return measured;
}

}  // namespace imageflex::test
