// A real imageflex process over a real store (a folder, or a bucket on the real
// Swift S3 server), preloaded with the generated fixtures.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "http_client.h"
#include "server_process.h"
#include "storage/s3_storage.h"
#include "storage/storage.h"

namespace imageflex::test {

enum class Backend { kFilesystem, kS3 };
std::string backend_name(Backend backend);

// A real Swift S3 server, run by deploy/swift/start.sh. shared() is one per test run;
// a private one (for outage tests) is started by the constructor and stopped with it.
// stop()/start() keep its data and port.
class SwiftServer {
 public:
  static SwiftServer& shared();
  SwiftServer(std::string dir, bool owned);  // owned: start now, stop and delete at the end
  SwiftServer(SwiftServer&& other) noexcept;
  const std::map<std::string, std::string>& env() const { return env_; }
  void stop();
  void start();
  // A new empty bucket with a unique name.
  std::string new_bucket();
  std::unique_ptr<Storage> storage(const std::string& bucket) const;
  S3Config s3_config(const std::string& bucket) const;
  std::shared_ptr<AwsCredentialsProvider> credentials() const;  // the server's static keys
  ~SwiftServer();

 private:
  std::string dir_;
  bool owned_ = false;
  std::string port_;
  std::map<std::string, std::string> env_;
};

class ServiceUnderTest {
 public:
  explicit ServiceUnderTest(Backend backend, std::vector<std::string> args = {},
                            std::map<std::string, std::string> env = {});
  ~ServiceUnderTest();

  ServerProcess& server() { return *server_; }
  Storage& store() { return *store_; }
  Backend backend() const { return backend_; }
  const std::string& root() const { return root_; }  // the folder (filesystem backend)
  // The store's flags (--root or --storage, then the test's) and environment (S3 keys),
  // to run another imageflex command on the same store.
  const std::vector<std::string>& args() const { return args_; }
  const std::map<std::string, std::string>& env() const { return env_; }

  HttpResponse get(const std::string& path, const std::vector<std::string>& headers = {});
  HttpResponse head(const std::string& path, const std::vector<std::string>& headers = {});
  long stat(const std::string& counter);  // a counter from /_imageflex/stats
  void put_original(const std::string& key, const std::string& bytes);
  void restart();  // same store, new process

 private:
  void start_server();

  Backend backend_;
  std::vector<std::string> args_;
  std::map<std::string, std::string> env_;
  std::string root_;
  std::string bucket_;
  std::unique_ptr<Storage> store_;
  std::unique_ptr<ServerProcess> server_;
  HttpClient client_;
};

std::string source_dir();

// The folder of generated fixture images.
const std::string& fixture_dir();

// The bytes of a generated fixture image.
std::string fixture(const std::string& name);

}  // namespace imageflex::test
