// The exact zip `make lambda` builds, unpacked at /var/task in a chroot that holds nothing
// else (no /usr, no /lib: none of Debian's libraries), started with an empty environment
// plus what Lambda sets, in a private mount namespace; it must serve JPEG, WebP and AVIF
// variants from the Swift bucket through the Runtime API emulator, with the environment's
// profile read from the zip and the environment named in its logs.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <memory>

#include "fixtures.h"
#include "image_check.h"
#include "lambda_emulator.h"
#include "server_process.h"
#include "service.h"

namespace imageflex::test {
namespace {

namespace fs = std::filesystem;

TEST(LambdaBundleTest, TheZipAloneServesJpegWebpAndAvif) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for unshare and chroot (CI runs as root)";
  ASSERT_TRUE(fs::exists(IMAGEFLEX_LAMBDA_ZIP)) << "run scripts/lambda_bundle.sh (make lambda) first";

  const std::string root = make_temp_dir();
  const std::string task = root + "/var/task";
  fs::create_directories(task);
  for (const char* dir : {"/tmp", "/dev", "/proc"}) fs::create_directories(root + dir);
  for (const char* device : {"/dev/null", "/dev/urandom"}) write_file(root + device, "");
  const CommandResult unzip = run_command({"/usr/bin/unzip", "-q", IMAGEFLEX_LAMBDA_ZIP, "-d", task});
  ASSERT_EQ(unzip.status, 0) << unzip.output;
  ASSERT_FALSE(fs::exists(root + "/usr") || fs::exists(root + "/lib") || fs::exists(root + "/lib64"));

  auto& swift = SwiftServer::shared();
  const std::string bucket = swift.new_bucket();
  auto store = swift.storage(bucket);
  store->put("landscape.jpg", fixture("landscape.jpg"), {});
  store->put("photo/alpha.png", fixture("alpha.png"), {});

  LambdaEmulator emulator;
  // What Lambda gives a provided.al2023 function, LD_LIBRARY_PATH included (it names the
  // system's library folders before ours), and the settings the stack sets.
  std::vector<std::string> command = {
      "/usr/bin/env", "-i", "AWS_LAMBDA_RUNTIME_API=" + emulator.address(), "LAMBDA_TASK_ROOT=/var/task",
      "LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/"
      "lib:/opt/lib",
      "AWS_REGION=" + swift.env().at("AWS_REGION"),
      "AWS_ACCESS_KEY_ID=" + swift.env().at("AWS_ACCESS_KEY_ID"),
      "AWS_SECRET_ACCESS_KEY=" + swift.env().at("AWS_SECRET_ACCESS_KEY"),
      "AWS_SESSION_TOKEN=", "IF_S3_ENDPOINT=" + swift.env().at("IF_S3_ENDPOINT"), "IF_STORAGE=s3://" + bucket,
      "IF_ENV=staging", "IF_CONFIG_DIR=/var/task/config", "IF_ACCESS_LOG=true", "IF_PLAYGROUND=false",
      // The mounts live and die with the namespace; --kill-child stops bootstrap with the test.
      "/usr/bin/unshare", "--mount", "--fork", "--kill-child", "/bin/sh", "-c",
      "set -e; cd '" + root +
          "'; "
          "mount --bind /dev/null dev/null; mount --bind /dev/urandom dev/urandom; mount -t proc proc proc; "
          "exec /usr/sbin/chroot . /var/task/bootstrap lambda"};
  std::unique_ptr<ServerProcess> lambda;
  try {
    lambda = std::make_unique<ServerProcess>(command, std::map<std::string, std::string>{},
                                             "lambda runtime ready");
  } catch (const std::exception& error) {
    remove_tree(root);
    FAIL() << error.what();
  }

  // The profile came from the zip (a missing one would have stopped the start), and the
  // environment leads every line from here on.
  EXPECT_TRUE(lambda->wait_for_output(
      R"(\{"env":"staging","level":"info","msg":"lambda runtime ready","profile":"/var/task/config/staging.toml")"))
      << lambda->output();

  struct Case {
    std::string path, query, loader;
    std::map<std::string, std::string> headers;
  };
  const Case cases[] = {
      {"/landscape.jpg", "w=320&f=jpeg", "jpegload", {}},
      {"/landscape.jpg", "w=320", "webpload", {{"accept", "image/webp,*/*"}}},
      {"/landscape.jpg", "w=320", "heifload", {{"accept", "image/avif,image/webp,*/*"}}},
      {"/photo/alpha.png", "w=100&f=avif", "heifload", {}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.path + "?" + c.query + " → " + c.loader);
    UrlResponse response;
    try {
      response = emulator.call(url_event("GET", c.path, c.query, c.headers));
    } catch (const std::exception& error) {
      ADD_FAILURE() << error.what() << "\n" << lambda->output();
      continue;
    }
    ASSERT_EQ(response.status, 200) << response.body << lambda->output();
    const Decoded d = decode(response.body);
    EXPECT_EQ(d.loader, c.loader);
    if (c.path == "/landscape.jpg") {
      EXPECT_EQ(d.width, 320);
      EXPECT_EQ(d.height, 240);
      EXPECT_LT(colour_distance(mean_colour(response.body, 20, 20, 100, 80), {kRed[0], kRed[1], kRed[2]}),
                20);
    } else {
      EXPECT_EQ(d.width, 100);
      EXPECT_TRUE(d.alpha) << "transparency survives";
    }
  }
  EXPECT_TRUE(
      lambda->wait_for_output(R"(\{"env":"staging","time":[0-9]+,"method":"GET","path":"/photo/alpha.png)"))
      << lambda->output();
  lambda.reset();
  remove_tree(root);
}

}  // namespace
}  // namespace imageflex::test
