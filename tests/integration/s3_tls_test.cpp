// --tls-ca-file reaches libcurl (CURLOPT_CAINFO): HTTPS to a store whose certificate only
// that file vouches for works with it, and fails without it. The Lambda bundle relies on
// this, since Debian's libcurl looks for CA certificates where Amazon Linux has none.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/error.h"
#include "fixtures.h"
#include "server_process.h"
#include "storage/aws_credentials.h"
#include "storage/s3_storage.h"

namespace imageflex::test {
namespace {

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t size = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
  ::close(fd);
  return ntohs(address.sin_port);
}

// A self-signed certificate for 127.0.0.1, written to DIR/NAME.pem and DIR/NAME.key.
void make_certificate(const std::string& dir, const std::string& name) {
  const CommandResult made =
      run_command({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                   "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout",
                   dir + "/" + name + ".key", "-out", dir + "/" + name + ".pem"});
  ASSERT_EQ(made.status, 0) << made.output;
}

TEST(S3TlsTest, TheConfiguredCaFileIsWhatCurlTrusts) {
  const std::string dir = make_temp_dir();
  make_certificate(dir, "server");
  make_certificate(dir, "other");
  const int port = free_port();
  ServerProcess tls_server({"/usr/bin/openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port),
                            "-cert", dir + "/server.pem", "-key", dir + "/server.key", "-www"},
                           {}, "ACCEPT");

  auto get_with = [&](const std::string& ca_file) {
    S3Config config;
    config.bucket = "bucket";
    config.endpoint = "https://127.0.0.1:" + std::to_string(port);
    config.max_retries = 0;
    config.ca_file = ca_file;
    S3Storage(config, static_credentials({"AKIDEXAMPLE", "secret", ""}))
        .get("key", {});  // s_server's status page: any answer means TLS held
  };
  EXPECT_NO_THROW(get_with(dir + "/server.pem"));
  EXPECT_THROW(get_with(dir + "/other.pem"), Error) << "a CA that did not sign it";
  EXPECT_THROW(get_with(""), Error) << "the system's CAs do not know it";
  remove_tree(dir);
}

}  // namespace
}  // namespace imageflex::test
