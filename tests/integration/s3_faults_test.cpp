// Store faults on the real Swift S3 server: an outage gives a clear 503 and the
// service recovers by itself; an original overwritten under load never yields a
// mixed picture.
#include <atomic>
#include <thread>

#include "integration.h"

namespace imageflex::test {
namespace {

TEST(S3FaultsTest, AnOutageIsA503AndTheServiceRecovers) {
  // A private Swift, so stopping it disturbs no other test.
  SwiftServer swift(make_temp_dir(), true);
  const std::string bucket = swift.new_bucket();
  auto store = swift.storage(bucket);
  store->put("landscape.jpg", fixture("landscape.jpg"), {});
  std::map<std::string, std::string> env = swift.env();
  ServerProcess server({"--storage", "s3://" + bucket}, env);
  HttpClient client;
  ASSERT_EQ(client.get(server.url("/landscape.jpg?w=100&f=webp")).status, 200);

  swift.stop();
  for (const char* path : {"/landscape.jpg", "/landscape.jpg?w=101&f=webp", "/other.jpg?w=10"}) {
    auto response = client.get(server.url(path));
    EXPECT_EQ(response.status, 503) << path << ": " << response.body;
    EXPECT_EQ(response.header("retry-after"), "1");
    EXPECT_EQ(response.body.find("127.0.0.1"), std::string::npos)
        << "no internal addresses: " << response.body;
  }
  EXPECT_EQ(client.get(server.url("/_imageflex/health")).status, 200) << "the service stays up";

  swift.start();
  auto recovered = client.get(server.url("/landscape.jpg?w=101&f=webp"));
  EXPECT_EQ(recovered.status, 200) << recovered.body;
  EXPECT_EQ(client.get(server.url("/no-such.jpg")).status, 404) << "missing is missing again, not an outage";
  server.stop();
}

TEST(S3FaultsTest, WrongCredentialsAreReportedAtStart) {
  auto& swift = SwiftServer::shared();
  const std::string bucket = swift.new_bucket();
  auto env = swift.env();
  env["AWS_SECRET_ACCESS_KEY"] = "not-the-secret";
  ServerProcess server({"--storage", "s3://" + bucket}, env);
  EXPECT_TRUE(server.wait_for_output("storage check failed.*SignatureDoesNotMatch")) << server.output();
  EXPECT_EQ(server.output().find("not-the-secret"), std::string::npos) << "no secrets in logs";
  server.stop();
}

TEST(S3FaultsTest, AnOriginalOverwrittenWhileServedIsNeverMixed) {
  auto& swift = SwiftServer::shared();
  const std::string bucket = swift.new_bucket();
  auto store = swift.storage(bucket);
  const std::string one = fixture("landscape.jpg");
  const std::string two = fixture("stripes.jpg");
  store->put("flip.jpg", one, {});
  ServerProcess server({"--storage", "s3://" + bucket}, swift.env());

  std::atomic<bool> done{false};
  std::thread writer([&] {
    auto writer_store = swift.storage(bucket);
    for (int i = 0; i < 20; ++i) writer_store->put("flip.jpg", i % 2 ? one : two, {});
    done = true;
  });
  // Variants from 200 px: a dHash of stripes.jpg's hard edges at 60 px is up to 8 bits off
  // the original's with the JPEG shrink-on-load (a resampling, not a mix of the two).
  const auto hash_one = dhash(one);
  const auto hash_two = dhash(two);
  HttpClient client;
  int served = 0, unexpected = 0;
  for (int i = 0; (!done || i < 10) && unexpected == 0; ++i) {
    for (const std::string& path :
         {std::string("/flip.jpg"), "/flip.jpg?f=png&w=" + std::to_string(200 + i % 40)}) {
      auto response = client.get(server.url(path));
      // 503 "changed while being read; retry" is ours to give; 404 is Swift's own
      // answer for an object in mid-overwrite (see StorageContractTest). Neither is
      // a picture, so neither can be a mixed one.
      if (response.status == 503 || response.status == 404) continue;
      if (response.status != 200) {
        ADD_FAILURE() << path << ": " << response.status << " " << response.body;
        ++unexpected;
        continue;
      }
      const auto hash = dhash(response.body);
      EXPECT_TRUE(hamming(hash, hash_one) <= 4 || hamming(hash, hash_two) <= 4)
          << path << ": a mixed picture";
      ++served;
    }
  }
  writer.join();  // always, so a failure reports instead of ending the process
  EXPECT_GT(served, 10);
  server.stop();
}

}  // namespace
}  // namespace imageflex::test
