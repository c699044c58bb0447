// The HTTP front against hostile and broken clients, with real sockets: requests it
// cannot frame safely, oversized heads, slowloris, readers that never read, too many
// connections, running out of file descriptors, and stopping within its drain timeout.
// Also admission: health beside a queue of misses, and the deadline counted from the read.
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <memory>
#include <regex>
#include <thread>

#include "integration.h"
#include "raw_client.h"

namespace imageflex::test {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The folder store: the front does not depend on the backend.
std::unique_ptr<ServiceUnderTest> start(std::vector<std::string> args) {
  return std::make_unique<ServiceUnderTest>(Backend::kFilesystem, std::move(args));
}

std::string health_request(const std::string& extra_headers = "") {
  return "GET /_imageflex/health HTTP/1.1\r\nHost: test\r\n" + extra_headers + "\r\n";
}

// The access log's duration_ms of each line with this status, for paths starting with `path`.
std::vector<double> logged_durations(const std::string& log, const std::string& path, int status) {
  std::vector<double> durations;
  const std::regex line("\"path\":\"" + path + "[^\"]*\",\"status\":" + std::to_string(status) +
                        ",\"bytes\":[0-9]+,\"duration_ms\":([0-9.]+)");
  for (auto it = std::sregex_iterator(log.begin(), log.end(), line); it != std::sregex_iterator(); ++it) {
    durations.push_back(std::stod((*it)[1]));
  }
  return durations;
}

// Sends `bytes` on a fresh connection and expects exactly one response, a 400 that says
// Connection: close, and then the end of the connection: nothing after it is read as a request.
void expect_one_400_and_close(int port, const std::string& bytes, const std::string& context) {
  RawConnection connection(port);
  connection.send(bytes);
  const std::string received = connection.read_until_closed(10);
  std::string rest;
  const auto responses = parse_responses(received, &rest);
  EXPECT_TRUE(connection.closed()) << context << ": the connection stays open";
  ASSERT_EQ(responses.size(), 1u) << context << ": " << received;
  EXPECT_EQ(responses[0].status, 400) << context << ": " << responses[0].body;
  EXPECT_EQ(responses[0].header("connection"), "close") << context;
  EXPECT_TRUE(rest.empty()) << context << ": " << rest;
}

TEST(ConnectionsTest, RequestsThatCannotBeFramedSafelyGetOne400AndAClose) {
  auto service = start({});
  const int port = service->server().port();
  const std::string second = health_request();
  expect_one_400_and_close(port, health_request("Transfer-Encoding: bogus\r\n") + second, "TE: bogus");
  expect_one_400_and_close(port,
                           health_request("Transfer-Encoding: gzip, chunked\r\n") + "0\r\n\r\n" + second,
                           "TE: gzip, chunked");
  expect_one_400_and_close(
      port,
      health_request("Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n") + "0\r\n\r\n" + second,
      "two TE headers");
  expect_one_400_and_close(
      port, health_request("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n") + "0\r\n\r\n" + second,
      "CL+TE");
  expect_one_400_and_close(
      port, health_request("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n") + "0\r\n\r\n" + second,
      "TE+CL");
  expect_one_400_and_close(port, health_request("Transfer-Encoding: chunked\r\n") + "0\r\n\r\n" + second,
                           "TE chunked on GET");
  expect_one_400_and_close(port, health_request("Content-Length: 44\r\n") + second, "a body on GET");
  expect_one_400_and_close(
      port, "HEAD /landscape.jpg HTTP/1.1\r\nHost: test\r\nContent-Length: 44\r\n\r\n" + second,
      "a body on HEAD");

  // Pipelined requests that are framed well are still answered, each one.
  RawConnection pipelined(port);
  pipelined.send(health_request() + health_request("Content-Length: 0\r\nConnection: close\r\n"));
  const auto responses = parse_responses(pipelined.read_until_closed(10));
  ASSERT_EQ(responses.size(), 2u);
  EXPECT_EQ(responses[0].status, 200);
  EXPECT_EQ(responses[1].status, 200);
  EXPECT_EQ(service->get("/landscape.jpg?w=10").status, 200) << "the server is still fine";
}

TEST(ConnectionsTest, OversizedHeadersAre431AndAnOverlongTargetIs414) {
  auto service = start({});
  const int port = service->server().port();
  for (const std::string& fields : {"X-Big: " + std::string(64 * 1024, 'a') + "\r\n", [] {
                                      std::string many;
                                      for (int i = 0; i < 2000; ++i)
                                        many += "X-" + std::to_string(i) + ": b\r\n";
                                      return many;
                                    }()}) {
    RawConnection connection(port);
    connection.send(health_request(fields));
    const auto responses = parse_responses(connection.read_until_closed(10));
    ASSERT_EQ(responses.size(), 1u);
    EXPECT_EQ(responses[0].status, 431) << fields.size() << " bytes of fields: " << responses[0].body;
    EXPECT_EQ(responses[0].header("connection"), "close");
  }
  RawConnection long_target(port);
  long_target.send("GET /landscape.jpg?pad=" + std::string(20000, 'a') + " HTTP/1.1\r\nHost: test\r\n\r\n");
  const auto responses = parse_responses(long_target.read_until_closed(10));
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].status, 414);
}

// Health is answered on the I/O thread: a queue of slow misses, longer than the handler
// threads, does not delay it.
TEST(ConnectionsTest, HealthAndStatsAnswerAtOnceWhileMissesQueue) {
  auto service = start({"--workers", "1", "--handler-threads", "4", "--deadline-ms", "6000"});
  service->put_original("heavy.jpg", make_heavy_jpeg(3000));
  constexpr int kMisses = 64;
  std::vector<std::thread> clients;
  for (int i = 0; i < kMisses; ++i) {
    clients.emplace_back([&, i] {
      HttpClient client;
      // Distinct variants, so single flight cannot merge them.
      client.get(service->server().url("/heavy.jpg?f=avif&w=" + std::to_string(2000 + i)));
    });
  }
  // The first transform is running, and the rest wait behind it.
  for (int i = 0; i < 100 && service->stat("running") == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(service->stat("running"), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  HttpClient probe;
  for (int i = 0; i < 5; ++i) {
    const auto started = Clock::now();
    const auto health = probe.get(service->server().url("/_imageflex/health"));
    EXPECT_EQ(health.status, 200);
    EXPECT_LT(seconds_since(started), 1.0) << "health waited behind the misses";
    const auto stats_started = Clock::now();
    EXPECT_EQ(probe.get(service->server().url("/_imageflex/stats")).status, 200);
    EXPECT_LT(seconds_since(stats_started), 1.0) << "stats waited behind the misses";
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (auto& client : clients) client.join();
}

// The deadline counts from the read: requests admitted to the handler queue end by their
// deadline counted from when they were read (503 at once if it passed while they waited),
// not a deadline after each one before them, and the access log's duration includes the
// wait. Beyond the handler queue, a 503 straight away.
TEST(ConnectionsTest, TheHandlerQueueIsBoundedAndItsWaitCountsTowardsTheDeadline) {
  constexpr double kDeadline = 1.5;
  auto service =
      start({"--workers", "1", "--handler-threads", "1", "--handler-queue", "2", "--deadline-ms", "1500"});
  service->put_original("heavy.jpg", make_heavy_jpeg(4000));  // an AVIF of it takes longer
  constexpr int kClients = 8;
  std::vector<HttpResponse> responses(kClients);
  std::vector<double> elapsed(kClients);
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&, i] {
      HttpClient client;
      const auto sent = Clock::now();
      responses[i] = client.get(service->server().url("/heavy.jpg?f=avif&w=" + std::to_string(3000 + i)));
      elapsed[i] = seconds_since(sent);
    });
  }
  for (auto& client : clients) client.join();
  int busy = 0;
  for (int i = 0; i < kClients; ++i) {
    const auto& response = responses[i];
    if (response.status == 503) {
      ++busy;
      EXPECT_EQ(response.header("retry-after"), "1");
    } else {
      EXPECT_TRUE(response.status == 504 || response.status == 200)
          << response.status << " " << response.body;
    }
    // Waiting for the requests before it and then a deadline of its own would take at
    // least two deadlines: its own deadline, counted from the read, ends it by one.
    EXPECT_LT(elapsed[i], kDeadline + 2.0) << "request " << i << " got " << response.status;
  }
  EXPECT_GE(busy, kClients - 4) << "one handler thread runs one request and its queue holds two more";
  ASSERT_TRUE(service->server().wait_for_output(
      "(\"path\":\"/heavy.jpg[^\"]*\",\"status\":[0-9]+[\\s\\S]*){" + std::to_string(kClients) + "}", 5))
      << service->server().output();
  const std::string log = service->server().output();
  int at_once = 0, after_waiting = 0;
  for (int status : {200, 503, 504}) {
    for (double ms : logged_durations(log, "/heavy.jpg", status)) {
      if (status == 503 && ms < 500) ++at_once;           // beyond the queue
      if (ms >= kDeadline * 1000 * 0.9) ++after_waiting;  // its wait for a handler thread is counted
    }
  }
  EXPECT_GE(at_once, kClients - 4) << "beyond the queue, refused without waiting";
  const int admitted = kClients - at_once;
  EXPECT_GE(after_waiting, admitted - 1) << "the logged durations leave out the wait for a handler thread:\n"
                                         << log;
  EXPECT_GE(service->stat("overloaded"), busy);
}

// A client that dribbles its head a byte at a time is cut after the header timeout in all,
// however steadily it sends; others are served meanwhile.
TEST(ConnectionsTest, SlowlorisIsCutAfterTheHeaderTimeout) {
  auto service = start({"--header-timeout-ms", "2000"});
  RawConnection slow(service->server().port());
  const std::string head = health_request("X-Padding: " + std::string(200, 'a') + "\r\n");
  const auto started = Clock::now();
  std::size_t sent = 0;
  while (sent < head.size() && !slow.closed() && seconds_since(started) < 8) {
    if (!slow.send(head.substr(sent, 1))) break;
    ++sent;
    slow.read_some(1024, 0.2);  // notices a close; a response would be a failure below
    if (sent == 3) {
      EXPECT_EQ(service->get("/_imageflex/health").status, 200) << "others are served meanwhile";
    }
  }
  const double cut_after = seconds_since(started);
  EXPECT_TRUE(slow.closed() || !slow.send("x")) << "still open after " << cut_after << " s";
  EXPECT_LT(sent, head.size()) << "the whole head went through";
  EXPECT_GT(cut_after, 1.5);
  EXPECT_LT(cut_after, 5.0);
  EXPECT_TRUE(service->server().wait_for_output("request head not complete within 2000 ms"));
  EXPECT_EQ(service->get("/landscape.jpg?w=10").status, 200);
}

// A kept-alive connection is closed after the idle timeout; a new one that sends nothing,
// after the header timeout.
TEST(ConnectionsTest, IdleConnectionsAreClosed) {
  auto service = start({"--idle-timeout-ms", "1000", "--header-timeout-ms", "1500"});
  RawConnection kept(service->server().port());
  RawConnection silent(service->server().port());
  kept.send(health_request());
  const auto started = Clock::now();
  const auto responses = parse_responses(kept.read_until_closed(6));
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].status, 200);
  EXPECT_TRUE(kept.closed());
  EXPECT_GT(seconds_since(started), 0.8);
  EXPECT_LT(seconds_since(started), 4.0);
  EXPECT_EQ(silent.read_until_closed(6), "");
  EXPECT_TRUE(silent.closed());
}

// A large original, bigger than the kernel's socket buffers can hold, so a client that does
// not read holds the server's write back.
std::string large_original() {
  std::ifstream wmem("/proc/sys/net/ipv4/tcp_wmem");
  long min = 0, initial = 0, max = 4L << 20;
  wmem >> min >> initial >> max;
  const double bytes = static_cast<double>(max) + 2.5 * (1 << 20);
  return make_heavy_jpeg(static_cast<int>(std::sqrt(bytes / 0.55)));  // about 0.55 bytes a pixel
}

TEST(ConnectionsTest, AReaderThatStopsIsCutAndLogged) {
  auto service = start({"--send-timeout-ms", "1000"});
  const std::string original = large_original();
  service->put_original("large.jpg", original);
  RawConnection stuck(service->server().port(), 8192);
  stuck.send("GET /large.jpg HTTP/1.1\r\nHost: test\r\n\r\n");
  EXPECT_TRUE(service->server().wait_for_output("slow reader cut: [0-9]+ bytes sent \\(body of " +
                                                    std::to_string(original.size()) + "\\) for /large.jpg",
                                                10))
      << service->server().output();
  const std::string received = stuck.read_until_closed(30);
  EXPECT_TRUE(stuck.closed());
  EXPECT_LT(received.size(), original.size()) << "cut before the end";
  EXPECT_EQ(service->get("/_imageflex/health").status, 200);
}

TEST(ConnectionsTest, ASlowButSteadyReaderIsServedToTheEnd) {
  auto service = start({"--send-timeout-ms", "1000"});
  const std::string original = large_original();
  service->put_original("large.jpg", original);
  RawConnection steady(service->server().port(), 8192);
  steady.send("GET /large.jpg HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
  // About 256 KiB a second for four seconds (four send timeouts), while the server is
  // still writing; then the rest as fast as it comes.
  std::string received;
  const auto started = Clock::now();
  while (seconds_since(started) < 4 && !steady.closed()) {
    for (int i = 0; i < 4; ++i) received += steady.read_some(16384, 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  received += steady.read_until_closed(30);
  EXPECT_GT(seconds_since(started), 4.0) << "the transfer outlasted four send timeouts";
  const auto responses = parse_responses(received);
  ASSERT_EQ(responses.size(), 1u) << received.size() << " bytes received";
  EXPECT_EQ(responses[0].status, 200);
  EXPECT_TRUE(responses[0].body == original) << "the whole image, intact";
  EXPECT_EQ(service->server().output().find("slow reader cut"), std::string::npos);
}

// At the connection cap, accepting pauses (new clients wait in the backlog) without
// spinning, and says so once; when connections close, requests are served again.
TEST(ConnectionsTest, AtTheConnectionCapAcceptingPausesWithoutSpinning) {
  auto service = start({"--max-connections", "20"});
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 40; ++i) idle.push_back(std::make_unique<RawConnection>(service->server().port()));
  EXPECT_TRUE(service->server().wait_for_output("connection limit reached \\(20 open\\)"));
  const double cpu_before = cpu_seconds(service->server().pid());
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_LT(cpu_seconds(service->server().pid()) - cpu_before, 0.5) << "the accept loop spins";
  idle.clear();
  EXPECT_EQ(service->get("/landscape.jpg?w=10").status, 200);
}

// Out of file descriptors (the limit lowered under the running server), accept backs off
// and logs instead of spinning; once connections close, requests are served again.
TEST(ConnectionsTest, OutOfFileDescriptorsAcceptBacksOffAndLogs) {
  auto service = start({"--max-connections", "1000"});
  const rlimit low{64, 64};
  ASSERT_EQ(::prlimit(service->server().pid(), RLIMIT_NOFILE, &low, nullptr), 0);
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 100; ++i) idle.push_back(std::make_unique<RawConnection>(service->server().port()));
  EXPECT_TRUE(service->server().wait_for_output("cannot accept a connection: Too many open files"))
      << service->server().output();
  const double cpu_before = cpu_seconds(service->server().pid());
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_LT(cpu_seconds(service->server().pid()) - cpu_before, 0.5) << "the accept loop spins";
  idle.clear();
  EXPECT_EQ(service->get("/_imageflex/health").status, 200);
}

// Lowers this process's soft descriptor limit while it lives, so a server started meanwhile
// starts under it (a child inherits it) and computes its connection cap from it.
class LowerFileLimit {
 public:
  explicit LowerFileLimit(rlim_t soft) {
    ::getrlimit(RLIMIT_NOFILE, &saved_);
    rlimit lowered = saved_;
    lowered.rlim_cur = std::min(soft, saved_.rlim_max);
    ::setrlimit(RLIMIT_NOFILE, &lowered);
  }
  ~LowerFileLimit() { ::setrlimit(RLIMIT_NOFILE, &saved_); }
  LowerFileLimit(const LowerFileLimit&) = delete;
  LowerFileLimit& operator=(const LowerFileLimit&) = delete;

 private:
  rlimit saved_{};
};

// A connection sending a body from the store holds a second descriptor (the folder store's
// file, or an S3 spool file), and every connection may: the cap leaves room for two each. As
// many connections as it admits, all streaming a large original at once, never run the
// server out of descriptors (no EMFILE on accept or on opening the file), and the last one
// it admits still gets health.
class ConnectionCapTest : public ::testing::TestWithParam<Backend> {};

TEST_P(ConnectionCapTest, EveryConnectionStreamingNeverRunsOutOfDescriptors) {
  std::unique_ptr<ServiceUnderTest> service;
  {
    const LowerFileLimit low(256);
    service = std::make_unique<ServiceUnderTest>(GetParam(),
                                                 std::vector<std::string>{"--send-timeout-ms", "60000"});
  }
  std::smatch lowered;
  const std::string log = service->server().output();
  ASSERT_TRUE(std::regex_search(log, lowered, std::regex("max-connections lowered from [0-9]+ to ([0-9]+)")))
      << log;
  const int cap = std::stoi(lowered[1]);
  const std::string original = large_original();
  service->put_original("large.jpg", original);

  std::vector<std::unique_ptr<RawConnection>> streaming;
  for (int i = 0; i + 1 < cap; ++i) {
    streaming.push_back(std::make_unique<RawConnection>(service->server().port(), 4096));
    streaming.back()->send("GET /large.jpg HTTP/1.1\r\nHost: test\r\n\r\n");
  }
  for (auto& client : streaming) {
    const std::string head = client->read_some(512, 10);
    EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << head.substr(0, 100);
    EXPECT_FALSE(client->closed());
  }
  RawConnection last(service->server().port());
  last.send(health_request("Connection: close\r\n"));
  const auto responses = parse_responses(last.read_until_closed(5));
  ASSERT_EQ(responses.size(), 1u) << "the last connection the cap admits is served";
  EXPECT_EQ(responses[0].status, 200);
  EXPECT_EQ(service->server().output().find("Too many open files"), std::string::npos)
      << service->server().output();
  EXPECT_EQ(service->server().output().find("cannot accept"), std::string::npos);
}

IMAGEFLEX_ON_EVERY_BACKEND(ConnectionCapTest);

// SIGTERM with requests in flight: idle connections close at once, the requests get until
// the drain timeout, and whatever is left is answered 503; the process exits within its bound.
TEST(ConnectionsTest, SigtermAnswersEveryRequestAndExitsWithinTheDrainTimeout) {
  auto service = start({"--workers", "1", "--drain-timeout-ms", "1000"});
  service->put_original("heavy.jpg", make_heavy_jpeg(3000));
  const int port = service->server().port();
  RawConnection idle(port);
  idle.send(health_request());
  ASSERT_EQ(parse_responses(idle.read_some(4096, 5)).size(), 1u);
  std::vector<std::unique_ptr<RawConnection>> slow;
  for (int i = 0; i < 8; ++i) {
    slow.push_back(std::make_unique<RawConnection>(port));
    slow.back()->send("GET /heavy.jpg?f=avif&w=" + std::to_string(2000 + i) +
                      " HTTP/1.1\r\nHost: test\r\n\r\n");
  }
  for (int i = 0; i < 100 && service->stat("running") == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(service->stat("running"), 1) << "the requests are in flight";
  const auto stopped = Clock::now();
  service->server().terminate();
  EXPECT_EQ(idle.read_until_closed(0.9), "") << "the idle connection is closed before the drain timeout";
  EXPECT_TRUE(idle.closed());
  EXPECT_TRUE(service->server().exited_within(4))
      << "still running " << seconds_since(stopped) << " s after SIGTERM";
  for (auto& connection : slow) {
    std::string rest;
    const auto responses = parse_responses(connection->read_until_closed(5), &rest);
    ASSERT_EQ(responses.size(), 1u) << "a bare close";
    EXPECT_TRUE(rest.empty());
    if (responses[0].status == 503) {
      EXPECT_EQ(responses[0].header("retry-after"), "1");
      EXPECT_EQ(responses[0].header("connection"), "close");
    } else {
      EXPECT_EQ(responses[0].status, 200) << responses[0].body;
    }
  }
  EXPECT_TRUE(service->server().wait_for_output("drain timeout passed", 0));
}

}  // namespace
}  // namespace imageflex::test
