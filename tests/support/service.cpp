#include "service.h"

#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <regex>
#include <stdexcept>

#include "fixtures.h"
#include "storage/fs_storage.h"
#include "storage/s3_storage.h"

namespace imageflex::test {
namespace {

std::map<std::string, std::string> read_env_file(const std::string& path) {
  std::map<std::string, std::string> env;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq != std::string::npos) env[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return env;
}

}  // namespace

// Fixtures are generated once (by the ctest fixture `fixtures`, or here once per
// process when run alone) and copied into each new store.
const std::string& fixture_dir() {
  static const std::string dir = [] {
    if (const char* state = std::getenv("IMAGEFLEX_TEST_STATE")) {
      std::string shared = std::string(state) + "/fixtures";
      if (std::filesystem::exists(shared + "/landscape.jpg")) return shared;
    }
    std::string d = make_temp_dir();
    write_fixtures(d);
    return d;
  }();
  return dir;
}

std::string source_dir() {
  return IMAGEFLEX_SOURCE_DIR;
}

std::string fixture(const std::string& name) {
  return read_file(fixture_dir() + "/" + name);
}

std::string backend_name(Backend backend) {
  return backend == Backend::kS3 ? "S3" : "Filesystem";
}

// Reuses the server the ctest fixture `swift` started (IMAGEFLEX_TEST_STATE/swift), else starts one.
SwiftServer& SwiftServer::shared() {
  static SwiftServer server = [] {
    const char* state = std::getenv("IMAGEFLEX_TEST_STATE");
    std::string dir = state ? std::string(state) + "/swift" : "";
    if (!dir.empty() && std::filesystem::exists(dir + "/env")) return SwiftServer(dir, false);
    return SwiftServer(make_temp_dir(), true);
  }();
  return server;
}

SwiftServer::SwiftServer(std::string dir, bool owned) : dir_(std::move(dir)), owned_(owned) {
  if (owned_) {
    start();
  } else {
    env_ = read_env_file(dir_ + "/env");
  }
}

SwiftServer::SwiftServer(SwiftServer&& other) noexcept
    : dir_(std::move(other.dir_)),
      owned_(other.owned_),
      port_(std::move(other.port_)),
      env_(std::move(other.env_)) {
  other.owned_ = false;
}

SwiftServer::~SwiftServer() {
  if (!owned_) return;
  stop();
  remove_tree(dir_);
}

void SwiftServer::start() {
  std::vector<std::string> command = {"/bin/bash", source_dir() + "/deploy/swift/start.sh", dir_};
  if (!port_.empty()) command.push_back(port_);
  auto result = run_command(command);
  if (result.status != 0) throw std::runtime_error("Swift did not start: " + result.output);
  env_ = read_env_file(dir_ + "/env");
  std::smatch match;
  const std::string endpoint = env_["IF_S3_ENDPOINT"];
  if (std::regex_search(endpoint, match, std::regex(":([0-9]+)$"))) port_ = match[1];
}

void SwiftServer::stop() {
  run_command({"/bin/bash", source_dir() + "/deploy/swift/stop.sh", dir_});
}

std::string SwiftServer::new_bucket() {
  static std::mt19937 random{std::random_device{}()};
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  std::string name = "if-test-" + std::to_string(random() % 100000000);
  S3Storage(s3_config(name), credentials()).create_bucket();
  return name;
}

S3Config SwiftServer::s3_config(const std::string& bucket) const {
  S3Config config;
  config.bucket = bucket;
  config.endpoint = env_.at("IF_S3_ENDPOINT");
  config.region = env_.at("AWS_REGION");
  return config;
}

std::shared_ptr<AwsCredentialsProvider> SwiftServer::credentials() const {
  return static_credentials({env_.at("AWS_ACCESS_KEY_ID"), env_.at("AWS_SECRET_ACCESS_KEY"), ""});
}

std::unique_ptr<Storage> SwiftServer::storage(const std::string& bucket) const {
  return std::make_unique<S3Storage>(s3_config(bucket), credentials());
}

ServiceUnderTest::ServiceUnderTest(Backend backend, std::vector<std::string> args,
                                   std::map<std::string, std::string> env)
    : backend_(backend), args_(std::move(args)), env_(std::move(env)) {
  if (backend == Backend::kS3) {
    auto& swift = SwiftServer::shared();
    bucket_ = swift.new_bucket();
    store_ = swift.storage(bucket_);
    for (const auto& [k, v] : swift.env()) env_.emplace(k, v);
    args_.insert(args_.begin(), {"--storage", "s3://" + bucket_});
  } else {
    root_ = make_temp_dir();
    store_ = std::make_unique<FsStorage>(root_);
    args_.insert(args_.begin(), {"--root", root_});
  }
  for (const auto& entry : std::filesystem::directory_iterator(fixture_dir())) {
    put_original(entry.path().filename().string(), read_file(entry.path().string()));
  }
  start_server();
}

ServiceUnderTest::~ServiceUnderTest() {
  server_.reset();
  if (!root_.empty()) remove_tree(root_);
}

void ServiceUnderTest::start_server() {
  server_ = std::make_unique<ServerProcess>(args_, env_);
}

void ServiceUnderTest::restart() {
  server_.reset();
  start_server();
}

void ServiceUnderTest::put_original(const std::string& key, const std::string& bytes) {
  store_->put(key, bytes, {});
}

HttpResponse ServiceUnderTest::get(const std::string& path, const std::vector<std::string>& headers) {
  return client_.get(server_->url(path), headers);
}

HttpResponse ServiceUnderTest::head(const std::string& path, const std::vector<std::string>& headers) {
  return client_.request("HEAD", server_->url(path), headers);
}

long ServiceUnderTest::stat(const std::string& counter) {
  HttpResponse response = client_.get(server_->url("/_imageflex/stats"));
  std::smatch match;
  if (!std::regex_search(response.body, match, std::regex("\"" + counter + "\":([0-9]+)"))) {
    throw std::runtime_error("no counter " + counter + " in " + response.body);
  }
  return std::stol(match[1]);
}

}  // namespace imageflex::test
