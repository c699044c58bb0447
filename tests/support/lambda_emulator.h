// A Lambda Runtime API emulator on loopback, run inside the test process, for testing
// `imageflex lambda` (and the bundle) as AWS Lambda would run it. It hands out queued
// events with a request id and a deadline, and records what comes back: responses
// (buffered, or streamed with chunked encoding), invocation errors and init errors.
// Like Lambda, it refuses a buffered response over 6 MB with 413.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace imageflex::test {

struct LambdaOutcome {
  enum class Kind { kNone, kResponse, kError, kRejected };  // kNone: nothing came in time
  Kind kind = Kind::kNone;
  bool chunked = false;                        // sent with Transfer-Encoding: chunked
  std::map<std::string, std::string> headers;  // the runtime's request headers, lower-case names
  std::string payload;                         // the body, chunks joined
  std::string header(const std::string& name) const {
    auto found = headers.find(name);
    return found == headers.end() ? "" : found->second;
  }
};

// What a function URL makes of a response outcome: the client's HTTP response.
struct UrlResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::vector<std::string> cookies;
  std::string body;
  std::string header(const std::string& name) const {
    auto found = headers.find(name);
    return found == headers.end() ? "" : found->second;
  }
};

// Decodes a buffered payload (JSON, body base64 when isBase64Encoded) or a streamed one
// (JSON prelude, eight NUL bytes, body). Throws std::runtime_error if it is neither.
UrlResponse url_response(const LambdaOutcome& outcome);

// A function URL event (payload format 2.0), as Lambda builds it for this request.
std::string url_event(const std::string& method, const std::string& path, const std::string& query = "",
                      const std::map<std::string, std::string>& headers = {}, const std::string& body = "");

class LambdaEmulator {
 public:
  LambdaEmulator();  // listens on 127.0.0.1, any free port
  ~LambdaEmulator();
  LambdaEmulator(const LambdaEmulator&) = delete;
  LambdaEmulator& operator=(const LambdaEmulator&) = delete;

  std::string address() const;  // "127.0.0.1:PORT", for AWS_LAMBDA_RUNTIME_API

  // Queues an event with `timeout` until its deadline; returns its request id.
  std::string invoke(const std::string& event, std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // What came back for the invocation, waiting up to `seconds`.
  LambdaOutcome wait(const std::string& request_id, double seconds = 60);
  // The init error, if one comes within `seconds`.
  std::optional<LambdaOutcome> wait_init_error(double seconds);
  // invoke + wait + url_response; fails the test if no response came.
  UrlResponse call(const std::string& event);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace imageflex::test
