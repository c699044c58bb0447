// S3Storage's failure handling (which answers are retried and how often, the
// deadline, how 4xx statuses map) and what it puts on the wire, checked against a
// scripted HTTP responder on 127.0.0.1.
//
// The responder is a fault-injection double, and only for that: a real S3 server
// (our integration tests run OpenStack Swift) cannot be made to answer 503 SlowDown,
// fail every attempt with a 500, hang or drop a connection on demand. Behaviour a
// real server does show is tested against Swift in tests/integration.
#include "storage/s3_storage.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/hash.h"

namespace imageflex {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr const char* kAccessKey = "AKIDSCRIPTEDTEST";
constexpr const char* kSecretKey = "scripted-secret-do-not-leak";
constexpr std::size_t kMaxHead = std::size_t{64} * 1024;

// ---- the scripted responder ---------------------------------------------------------

std::string_view trim_spaces(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::string lower_case(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower;
}

struct Reply {
  int status = 200;
  NameValueList headers;  // sent as given; Content-Length is added
  std::string body;
  milliseconds hang{0};  // > 0: say nothing for this long, then close the connection
  bool close = false;    // close the connection without answering
};

Reply ok(std::string body, NameValueList headers = {}) {
  Reply reply;
  reply.body = std::move(body);
  reply.headers = std::move(headers);
  return reply;
}

// An error the way S3 sends it: the status plus an XML document naming the code,
// which S3Storage reads to tell, say, AccessDenied from SignatureDoesNotMatch.
Reply s3_error(int status, std::string_view code) {
  Reply reply;
  reply.status = status;
  reply.headers = {{"Content-Type", "application/xml"}};
  reply.body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + std::string(code) +
               "</Code><Message>scripted</Message><RequestId>tx0</RequestId></Error>";
  return reply;
}

Reply hang(milliseconds duration) {
  Reply reply;
  reply.hang = duration;
  return reply;
}

Reply drop() {
  Reply reply;
  reply.close = true;
  return reply;
}

struct SeenRequest {
  int connection = 0;  // 1 for the first accepted connection, 2 for the next, ...
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;

  std::string header(const std::string& name) const {
    const auto found = headers.find(name);
    return found == headers.end() ? "<absent>" : found->second;
  }
};

// Answers requests in arrival order from a script, then with `otherwise` once the
// script has run out (so that a test expecting N requests sees the N+1st plainly).
// One thread accepts; each connection gets its own thread, so a hanging connection
// does not hold up the retry that curl makes on a new one. Keep-alive as curl
// expects it: every answer has a Content-Length and the connection stays open.
class ScriptedServer {
 public:
  explicit ScriptedServer(std::vector<Reply> script, Reply otherwise = s3_error(500, "ScriptExhausted"))
      : script_(script.begin(), script.end()), otherwise_(std::move(otherwise)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) throw std::runtime_error("socket failed");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);  // never reachable from outside
    socklen_t length = sizeof address;
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        listen(listen_fd_, 16) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      close(listen_fd_);
      throw std::runtime_error("cannot listen on 127.0.0.1");
    }
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  ScriptedServer(const ScriptedServer&) = delete;
  ScriptedServer& operator=(const ScriptedServer&) = delete;

  ~ScriptedServer() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      // Wakes connection threads blocked in recv; they close their own sockets.
      for (const int fd : open_fds_) shutdown(fd, SHUT_RDWR);
    }
    wake_.notify_all();               // ends hangs early
    shutdown(listen_fd_, SHUT_RDWR);  // makes accept() return
    acceptor_.join();
    // The acceptor is gone, so no thread is added from here on.
    for (std::thread& thread : connection_threads_) thread.join();
    close(listen_fd_);
  }

  int port() const { return port_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

  std::vector<SeenRequest> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

  int connections() const {
    std::lock_guard lock(mutex_);
    return accepted_;
  }

 private:
  void accept_loop() {
    for (;;) {
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        return;  // shut down
      }
      std::lock_guard lock(mutex_);
      if (stopping_) {
        close(fd);
        return;
      }
      open_fds_.insert(fd);
      const int connection = ++accepted_;
      connection_threads_.emplace_back([this, fd, connection] { serve(fd, connection); });
    }
  }

  void serve(int fd, int connection) {
    std::string buffer;  // bytes received but not yet consumed
    for (;;) {
      SeenRequest request;
      request.connection = connection;
      if (!read_request(fd, buffer, request)) break;
      const bool is_head = request.method == "HEAD";
      Reply reply;
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(std::move(request));
        if (script_.empty()) {
          reply = otherwise_;
        } else {
          reply = std::move(script_.front());
          script_.pop_front();
        }
      }
      if (reply.close) break;
      if (reply.hang.count() > 0) {
        std::unique_lock lock(mutex_);
        wake_.wait_for(lock, reply.hang, [this] { return stopping_; });
        break;
      }
      if (!send_all(fd, render(reply, is_head))) break;
    }
    {
      std::lock_guard lock(mutex_);
      open_fds_.erase(fd);
    }
    close(fd);
  }

  // Reads one request (head, then a Content-Length body) off the connection. False
  // when the peer closed, the server is stopping, or the request is malformed.
  static bool read_request(int fd, std::string& buffer, SeenRequest& request) {
    std::size_t head_end;
    while ((head_end = buffer.find("\r\n\r\n")) == std::string::npos) {
      if (buffer.size() > kMaxHead || !receive_more(fd, buffer)) return false;
    }
    const std::string_view head = std::string_view(buffer).substr(0, head_end);

    std::size_t line_end = head.find("\r\n");
    const std::string_view request_line = head.substr(0, line_end);
    const std::size_t first_space = request_line.find(' ');
    const std::size_t second_space = request_line.find(' ', first_space + 1);
    if (first_space == std::string_view::npos || second_space == std::string_view::npos) return false;
    request.method = std::string(request_line.substr(0, first_space));
    request.target = std::string(request_line.substr(first_space + 1, second_space - first_space - 1));

    while (line_end != std::string_view::npos) {
      const std::size_t start = line_end + 2;
      line_end = head.find("\r\n", start);
      const std::string_view line = head.substr(start, line_end - start);
      const std::size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      std::string& slot = request.headers[lower_case(trim_spaces(line.substr(0, colon)))];
      const std::string value(trim_spaces(line.substr(colon + 1)));
      slot = slot.empty() ? value : slot + "," + value;
    }

    std::size_t body_length = 0;
    if (const auto found = request.headers.find("content-length"); found != request.headers.end()) {
      body_length = std::stoul(found->second);
    }
    const std::size_t body_start = head_end + 4;
    while (buffer.size() < body_start + body_length) {
      if (!receive_more(fd, buffer)) return false;
    }
    request.body = buffer.substr(body_start, body_length);
    buffer.erase(0, body_start + body_length);
    return true;
  }

  static bool receive_more(int fd, std::string& buffer) {
    char chunk[16384];
    for (;;) {
      const ssize_t received = recv(fd, chunk, sizeof chunk, 0);
      if (received > 0) {
        buffer.append(chunk, static_cast<std::size_t>(received));
        return true;
      }
      if (received < 0 && errno == EINTR) continue;
      return false;
    }
  }

  static std::string render(const Reply& reply, bool is_head) {
    std::string text = "HTTP/1.1 " + std::to_string(reply.status) +
                       (reply.status == 200 ? " OK" : " Scripted") +
                       "\r\nContent-Length: " + std::to_string(reply.body.size()) + "\r\n";
    for (const auto& [name, value] : reply.headers) text += name + ": " + value + "\r\n";
    text += "\r\n";
    if (!is_head) text += reply.body;  // a HEAD answer declares the length but has no body
    return text;
  }

  static bool send_all(int fd, std::string_view data) {
    while (!data.empty()) {
      // MSG_NOSIGNAL: a client that gave up must not kill the test with SIGPIPE.
      const ssize_t sent = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (sent < 0 && errno == EINTR) continue;
      if (sent <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(sent));
    }
    return true;
  }

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::deque<Reply> script_;
  Reply otherwise_;
  std::vector<SeenRequest> requests_;
  std::set<int> open_fds_;
  int accepted_ = 0;
  std::vector<std::thread> connection_threads_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::thread acceptor_;
};

// ---- helpers ------------------------------------------------------------------------

S3Config config_for(const ScriptedServer& server) {
  S3Config config;
  config.bucket = "photos";
  config.prefix = "originals";
  config.endpoint = server.endpoint();
  config.access_key = kAccessKey;
  config.secret_key = kSecretKey;
  config.connect_timeout_ms = 1000;
  config.total_timeout_ms = 5000;
  config.max_retries = 3;
  return config;
}

// The Error that `call` throws, or nullopt if it returns. Anything else it throws
// propagates and fails the test.
template <typename Call>
std::optional<Error> error_from(Call&& call) {
  try {
    call();
  } catch (const Error& error) {
    return error;
  }
  return std::nullopt;
}

// What a GET meeting this one S3 error throws. Such errors are never retried,
// so the store must have been asked exactly once.
std::optional<Error> get_error_asked_once(int status, const std::string& code) {
  ScriptedServer server({s3_error(status, code)});
  S3Storage storage(config_for(server));
  auto error = error_from([&] { storage.get("cat.jpg", {}); });
  EXPECT_EQ(server.requests().size(), 1u) << code << " must not be retried";
  return error;
}

// ---- retries ------------------------------------------------------------------------

TEST(S3RetryTest, SlowDownIsRetriedUntilTheObjectArrives) {
  ScriptedServer server({s3_error(503, "SlowDown"), s3_error(503, "SlowDown"),
                         ok("picture bytes", {{"ETag", "\"abc123\""}, {"Content-Type", "image/jpeg"}})});
  S3Storage storage(config_for(server));

  const GetResult result = storage.get("cat.jpg", {});

  EXPECT_EQ(result.status, GetStatus::kOk);
  EXPECT_EQ(result.object.bytes, "picture bytes");
  EXPECT_EQ(result.object.info.etag, "abc123");
  EXPECT_EQ(result.object.info.content_type, "image/jpeg");
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  for (const SeenRequest& request : requests) {
    EXPECT_EQ(request.method, "GET");
    EXPECT_EQ(request.target, "/photos/originals/cat.jpg");
  }
}

TEST(S3RetryTest, TooManyRequestsIsRetriedLikeSlowDown) {
  ScriptedServer server({s3_error(429, "TooManyRequests"), ok("picture bytes")});
  S3Storage storage(config_for(server));
  EXPECT_EQ(storage.get("cat.jpg", {}).status, GetStatus::kOk);
  EXPECT_EQ(server.requests().size(), 2u);
}

TEST(S3RetryTest, ARetriedPutResendsTheWholeBody) {
  ScriptedServer server({s3_error(503, "SlowDown"), ok("")});
  S3Storage storage(config_for(server));
  const std::string bytes(100000, 'p');  // several TCP segments

  storage.put("big.png", bytes, {});

  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  for (const SeenRequest& request : requests) {
    EXPECT_EQ(request.method, "PUT");
    EXPECT_EQ(request.body, bytes);
  }
}

TEST(S3RetryTest, PersistentServerErrorIsUnavailableAfterMaxRetries) {
  ScriptedServer server({}, s3_error(500, "InternalError"));
  S3Config config = config_for(server);
  config.max_retries = 2;
  S3Storage storage(config);
  const auto start = steady_clock::now();

  const auto error = error_from([&] { storage.get("cat.jpg", {}); });

  ASSERT_TRUE(error.has_value()) << "get returned despite a 500 on every attempt";
  EXPECT_EQ(error->kind(), ErrorKind::kStoreUnavailable);
  EXPECT_EQ(server.requests().size(), 3u) << "the first attempt and max_retries = 2 more";
  // The reason reaches logs and (through kStoreUnavailable) clients: no secrets, no
  // internal addresses.
  const std::string reason = error->what();
  EXPECT_NE(reason.find("after 3 attempts"), std::string::npos) << reason;
  EXPECT_EQ(reason.find(kAccessKey), std::string::npos) << reason;
  EXPECT_EQ(reason.find(kSecretKey), std::string::npos) << reason;
  EXPECT_EQ(reason.find("127.0.0.1"), std::string::npos) << reason;
  EXPECT_EQ(reason.find(std::to_string(server.port())), std::string::npos) << reason;
  // Two backoffs of at most 50 and 100 ms.
  EXPECT_LT(steady_clock::now() - start, milliseconds(1000));
}

TEST(S3RetryTest, ConnectionClosedWithoutAnAnswerIsRetried) {
  ScriptedServer server({drop(), ok("after the drop")});
  S3Storage storage(config_for(server));

  const GetResult result = storage.get("cat.jpg", {});

  EXPECT_EQ(result.status, GetStatus::kOk);
  EXPECT_EQ(result.object.bytes, "after the drop");
  EXPECT_EQ(server.requests().size(), 2u);
  EXPECT_EQ(server.connections(), 2) << "the dropped connection cannot be reused";
}

// ---- no retry on 4xx ------------------------------------------------------------------

TEST(S3RetryTest, NoSuchKeyIsNotFoundWithoutRetry) {
  ScriptedServer server({s3_error(404, "NoSuchKey")});
  S3Storage storage(config_for(server));

  EXPECT_EQ(storage.get("missing.jpg", {}).status, GetStatus::kNotFound);
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(S3RetryTest, NoSuchBucketIsAConfigurationFaultNotAMissingKey) {
  const auto error = get_error_asked_once(404, "NoSuchBucket");

  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->kind(), ErrorKind::kStoreUnavailable);
}

TEST(S3RetryTest, BadRequestIsUnavailableWithoutRetry) {
  const auto error = get_error_asked_once(400, "InvalidRequest");

  ASSERT_TRUE(error.has_value()) << "an unexpected 400 must not read as an object or as missing";
  EXPECT_EQ(error->kind(), ErrorKind::kStoreUnavailable);
  EXPECT_NE(std::string(error->what()).find("400"), std::string::npos) << error->what();
}

// ---- 403 ------------------------------------------------------------------------------

TEST(S3RetryTest, AccessDeniedOnGetIsNotFound) {
  // S3 hides a missing key from a reader without s3:ListBucket behind 403 AccessDenied.
  ScriptedServer server({s3_error(403, "AccessDenied")});
  S3Storage storage(config_for(server));

  EXPECT_EQ(storage.get("missing.jpg", {}).status, GetStatus::kNotFound);
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST(S3RetryTest, SignatureMismatchOnGetIsUnavailable) {
  const auto error = get_error_asked_once(403, "SignatureDoesNotMatch");

  ASSERT_TRUE(error.has_value()) << "a bad signature must not pass for a missing key";
  EXPECT_EQ(error->kind(), ErrorKind::kStoreUnavailable);
}

TEST(S3RetryTest, ForbiddenPutThrows) {
  ScriptedServer server({s3_error(403, "AccessDenied")});
  S3Storage storage(config_for(server));

  const auto error = error_from([&] { storage.put("cat.jpg", "bytes", {}); });

  ASSERT_TRUE(error.has_value()) << "a refused write must not look like a success";
  EXPECT_EQ(error->kind(), ErrorKind::kStoreUnavailable);
  EXPECT_EQ(server.requests().size(), 1u);
}

// ---- deadline -------------------------------------------------------------------------

TEST(S3RetryTest, AHangingStoreIsUnavailableAtTheDeadline) {
  ScriptedServer server({}, hang(milliseconds(5000)));
  S3Config config = config_for(server);
  config.total_timeout_ms = 300;
  S3Storage storage(config);
  const auto start = steady_clock::now();

  const auto error = error_from([&] { storage.get("cat.jpg", {}); });

  const auto elapsed = steady_clock::now() - start;
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->kind(), ErrorKind::kStoreUnavailable);
  EXPECT_GE(server.requests().size(), 1u);
  EXPECT_GE(elapsed, milliseconds(250)) << "gave up before the deadline";
  EXPECT_LT(elapsed, milliseconds(1500)) << "the deadline covers retries and backoff too";
}

// ---- what goes on the wire --------------------------------------------------------------

TEST(S3RetryTest, RequestsAreSignedAndPutCarriesItsPayloadHashAndMetadata) {
  ScriptedServer server({ok("stored"), ok("")});
  S3Storage storage(config_for(server));
  const std::string bytes = "\x89PNG\r\n\x1a\n not really a picture";
  PutOptions options;
  options.content_type = "image/png";
  options.metadata = {{"source-etag", "abc123"}, {"width", "640"}};

  ASSERT_EQ(storage.get("cat.jpg", {}).status, GetStatus::kOk);
  storage.put("variants/cat.png", bytes, options);

  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  for (const SeenRequest& request : requests) {
    EXPECT_EQ(request.header("authorization").rfind("AWS4-HMAC-SHA256 Credential=", 0), 0u)
        << request.header("authorization");
    EXPECT_NE(request.header("x-amz-date"), "<absent>");
  }
  EXPECT_EQ(requests[0].header("x-amz-content-sha256"), sha256_hex(""));

  const SeenRequest& put = requests[1];
  EXPECT_EQ(put.method, "PUT");
  EXPECT_EQ(put.target, "/photos/originals/variants/cat.png");
  EXPECT_EQ(put.body, bytes);
  EXPECT_EQ(put.header("x-amz-content-sha256"), sha256_hex(bytes));
  EXPECT_EQ(put.header("content-type"), "image/png");
  EXPECT_EQ(put.header("x-amz-meta-source-etag"), "abc123");
  EXPECT_EQ(put.header("x-amz-meta-width"), "640");
  EXPECT_EQ(put.header("expect"), "<absent>") << "no 100-continue round trip";
}

TEST(S3RetryTest, SequentialRequestsReuseOneConnection) {
  ScriptedServer server({ok("one"), ok(""), ok("three", {{"ETag", "\"e3\""}})});
  S3Storage storage(config_for(server));

  EXPECT_EQ(storage.get("a.jpg", {}).object.bytes, "one");
  storage.put("b.jpg", "bytes", {});
  const auto info = storage.stat("c.jpg");

  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->etag, "e3");
  EXPECT_EQ(server.requests().size(), 3u);
  EXPECT_EQ(server.connections(), 1) << "curl handles are pooled, so their connections are kept";
}

}  // namespace
}  // namespace imageflex
