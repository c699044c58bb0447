// A client of the AWS Lambda Runtime API (the endpoint in AWS_LAMBDA_RUNTIME_API):
// fetch the next invocation, answer it (buffered or streamed), or report an error.
// https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace imageflex {

// One invocation handed out by `next`.
struct Invocation {
  std::string request_id;                   // Lambda-Runtime-Aws-Request-Id
  std::optional<std::int64_t> deadline_ms;  // Lambda-Runtime-Deadline-Ms: unix epoch, milliseconds
  std::string event;                        // the event's JSON
};

// Blocking; one connection per call (the API is on loopback, and `next` may wait for minutes).
// Every call throws std::runtime_error when the API cannot be reached or refuses the call.
class RuntimeClient {
 public:
  explicit RuntimeClient(const std::string& host_port);  // "127.0.0.1:9001"

  Invocation next();
  // BUFFERED invoke mode: the whole response payload at once.
  void respond(const std::string& request_id, std::string_view payload);
  // RESPONSE_STREAM invoke mode, HTTP integration: the JSON prelude (status, headers,
  // cookies), eight NUL bytes, then the body, sent with chunked transfer encoding.
  void respond_streaming(const std::string& request_id, std::string_view prelude, std::string_view body);
  void invocation_error(const std::string& request_id, const std::string& type, const std::string& message);
  void init_error(const std::string& type, const std::string& message);

 private:
  // POSTs JSON to the API (with Lambda-Runtime-Function-Error-Type unless `error_type` is empty).
  void post(const std::string& path, std::string_view json, const std::string& error_type,
            std::string_view what);

  std::string host_;
  std::string port_;
};

}  // namespace imageflex
