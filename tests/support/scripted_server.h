// A scripted HTTP responder on 127.0.0.1 (a free port): it answers requests in
// arrival order from a script and records what it was sent.
//
// It is a fault-injection double, and only for that: a real S3 server (the
// integration tests run OpenStack Swift) cannot be made to answer 503 SlowDown, hang
// or drop a connection on demand, and there is no EC2 or ECS metadata service here.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace imageflex::test {

struct Reply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // sent as given; Content-Length is added
  std::string body;
  std::chrono::milliseconds delay{0};  // > 0: wait this long, then answer
  std::chrono::milliseconds hang{0};   // > 0: say nothing for this long, then close the connection
  bool close = false;                  // close the connection without answering
  // Below the body's size: send only this many of its bytes, then close the connection (a
  // body cut short of its Content-Length).
  std::size_t cut_after = SIZE_MAX;
};

Reply ok(std::string body, std::vector<std::pair<std::string, std::string>> headers = {});
// An error the way S3 sends it: the status plus an XML document naming the code.
Reply s3_error(int status, std::string_view code);
Reply status_only(int status);  // that status with an empty body
Reply hang(std::chrono::milliseconds duration);
Reply drop();
Reply cut_short(std::string body, std::size_t sent);  // 200 with `body`'s length, `sent` bytes of it

struct SeenRequest {
  int connection = 0;  // 1 for the first accepted connection, 2 for the next, ...
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;

  std::string header(const std::string& name) const;  // "<absent>" if not sent
};

// Answers requests in arrival order from a script, then with `otherwise` once the
// script has run out (so that a test expecting N requests sees the N+1st plainly).
// One thread accepts; each connection gets its own thread, so a hanging connection
// does not hold up a retry on a new one. Keep-alive as curl expects it: every answer
// has a Content-Length and the connection stays open.
class ScriptedServer {
 public:
  explicit ScriptedServer(std::vector<Reply> script, Reply otherwise = s3_error(500, "ScriptExhausted"));
  ScriptedServer(const ScriptedServer&) = delete;
  ScriptedServer& operator=(const ScriptedServer&) = delete;
  ~ScriptedServer();

  int port() const { return port_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<SeenRequest> requests() const;
  int connections() const;

 private:
  void accept_loop();
  void serve(int fd, int connection);

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

// A loopback port with nothing listening (bound, then closed).
int closed_port();

}  // namespace imageflex::test
