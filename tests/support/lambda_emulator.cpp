#include "lambda_emulator.h"

#include <poll.h>
#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <cctype>
#include <stdexcept>

namespace imageflex::test {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using Tcp = net::ip::tcp;
using Json = nlohmann::json;

namespace {

constexpr std::string_view kApi = "/2018-06-01/runtime";
constexpr std::size_t kBufferedLimit = std::size_t{6} << 20;

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::map<std::string, std::string> string_map(const Json& object) {
  std::map<std::string, std::string> result;
  if (!object.is_object()) return result;
  for (const auto& [name, value] : object.items()) result[lower(name)] = value.get<std::string>();
  return result;
}

// Boost's base64, not the service's own, so the tests do not check the code with itself.
std::string base64_encode(const std::string& bytes) {
  std::string text(beast::detail::base64::encoded_size(bytes.size()), '\0');
  text.resize(beast::detail::base64::encode(text.data(), bytes.data(), bytes.size()));
  return text;
}

std::string base64_decode(const std::string& text) {
  std::string bytes(beast::detail::base64::decoded_size(text.size()), '\0');
  auto [written, read] = beast::detail::base64::decode(bytes.data(), text.data(), text.size());
  // Beast stops at the '=' padding; anything else left over is not base64.
  if (text.find_first_not_of('=', read) != std::string::npos) throw std::runtime_error("body is not base64");
  bytes.resize(written);
  return bytes;
}

std::vector<std::string> string_list(const Json& array) {
  std::vector<std::string> result;
  if (array.is_array()) {
    for (const auto& item : array) result.push_back(item.get<std::string>());
  }
  return result;
}

}  // namespace

UrlResponse url_response(const LambdaOutcome& outcome) {
  if (outcome.kind != LambdaOutcome::Kind::kResponse) throw std::runtime_error("not a response");
  UrlResponse response;
  Json head;
  if (outcome.header("lambda-runtime-function-response-mode") == "streaming") {
    if (outcome.header("content-type") != "application/vnd.awslambda.http-integration-response") {
      throw std::runtime_error("streamed response of type " + outcome.header("content-type"));
    }
    const auto end = outcome.payload.find(std::string(8, '\0'));
    if (end == std::string::npos) throw std::runtime_error("streamed response without its prelude delimiter");
    head = Json::parse(outcome.payload.substr(0, end));
    response.body = outcome.payload.substr(end + 8);
  } else {
    head = Json::parse(outcome.payload);
    response.body = head.value("body", "");
    if (head.value("isBase64Encoded", false)) response.body = base64_decode(response.body);
  }
  response.status = head.at("statusCode").get<long>();
  response.headers = string_map(head.value("headers", Json::object()));
  response.cookies = string_list(head.value("cookies", Json::array()));
  return response;
}

std::string url_event(const std::string& method, const std::string& path, const std::string& query,
                      const std::map<std::string, std::string>& headers, const std::string& body) {
  Json event = {
      {"version", "2.0"},
      {"routeKey", "$default"},
      {"rawPath", path},
      {"rawQueryString", query},
      {"headers", Json::object()},
      {"requestContext",
       {{"accountId", "anonymous"},
        {"domainName", "example.lambda-url.us-east-1.on.aws"},
        {"http", {{"method", method}, {"path", path}, {"protocol", "HTTP/1.1"}, {"sourceIp", "127.0.0.1"}}},
        {"requestId", "test"}}},
      {"isBase64Encoded", !body.empty()}};
  event["headers"]["host"] = "example.lambda-url.us-east-1.on.aws";
  for (const auto& [name, value] : headers) event["headers"][lower(name)] = value;
  if (!body.empty()) event["body"] = base64_encode(body);
  return event.dump();
}

struct LambdaEmulator::Impl {
  net::io_context io;
  Tcp::acceptor acceptor{io, Tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)};
  std::thread accept_thread;

  std::mutex mutex;
  std::condition_variable changed;
  bool stopping = false;
  std::vector<std::thread> connections;
  std::vector<int> sockets;  // open connections, shut down on stop
  struct Event {
    std::string id;
    std::string json;
    std::int64_t deadline_ms;
  };
  std::deque<Event> queue;
  std::map<std::string, LambdaOutcome> outcomes;
  std::optional<LambdaOutcome> init_error;
  int next_id = 0;

  void accept_loop() {
    for (;;) {
      beast::error_code ec;
      Tcp::socket socket(io);
      acceptor.accept(socket, ec);
      std::lock_guard lock(mutex);
      if (stopping) return;
      if (ec) continue;
      sockets.push_back(socket.native_handle());
      connections.emplace_back([this, s = std::move(socket)]() mutable { serve(std::move(s)); });
    }
  }

  void serve(Tcp::socket socket) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(std::uint64_t{64} << 20);  // past the 6 MB buffered limit, to refuse it
      beast::error_code ec;
      http::read(socket, buffer, parser, ec);
      if (ec) return;
      const bool chunked = parser.chunked();
      auto request = parser.release();
      auto response = route(request, chunked, socket.native_handle());
      if (!response) return;  // the runtime went away while waiting for an event
      response->keep_alive(request.keep_alive());
      response->prepare_payload();
      http::write(socket, *response, ec);
      if (ec || !response->keep_alive()) return;
    }
  }

  static http::response<http::string_body> reply(http::status status, const std::string& body) {
    http::response<http::string_body> response{status, 11};
    response.set(http::field::content_type, "application/json");
    response.body() = body;
    return response;
  }

  // True while the peer of `fd` has not closed or reset the connection.
  static bool connected(int fd) {
    pollfd p{fd, POLLRDHUP, 0};
    return ::poll(&p, 1, 0) == 0;
  }

  std::optional<http::response<http::string_body>> route(const http::request<http::string_body>& request,
                                                         bool chunked, int fd) {
    const std::string target(request.target());
    if (request.method() == http::verb::get && target == std::string(kApi) + "/invocation/next") {
      std::unique_lock lock(mutex);
      // A runtime that was stopped while it waited must not take the next event with it.
      while (!changed.wait_for(lock, std::chrono::milliseconds(50),
                               [this] { return stopping || !queue.empty(); })) {
        if (!connected(fd)) return std::nullopt;
      }
      if (stopping || !connected(fd)) return std::nullopt;
      Event event = queue.front();
      queue.pop_front();
      auto response = reply(http::status::ok, event.json);
      response.set("Lambda-Runtime-Aws-Request-Id", event.id);
      response.set("Lambda-Runtime-Deadline-Ms", std::to_string(event.deadline_ms));
      response.set("Lambda-Runtime-Invoked-Function-Arn",
                   "arn:aws:lambda:us-east-1:000000000000:function:test");
      response.set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0");
      return response;
    }
    if (request.method() != http::verb::post) return reply(http::status::not_found, "{}");

    LambdaOutcome outcome;
    outcome.chunked = chunked;
    outcome.payload = request.body();
    for (const auto& field : request)
      outcome.headers[lower(std::string(field.name_string()))] = std::string(field.value());

    std::lock_guard lock(mutex);
    if (target == std::string(kApi) + "/init/error") {
      outcome.kind = LambdaOutcome::Kind::kError;
      init_error = outcome;
      changed.notify_all();
      return reply(http::status::accepted, R"({"status":"OK"})");
    }
    const std::string prefix = std::string(kApi) + "/invocation/";
    const auto slash = target.rfind('/');
    if (target.rfind(prefix, 0) != 0 || slash < prefix.size()) return reply(http::status::not_found, "{}");
    const std::string id = target.substr(prefix.size(), slash - prefix.size());
    const std::string what = target.substr(slash + 1);
    if (!outcomes.count(id) || outcomes[id].kind != LambdaOutcome::Kind::kNone) {
      return reply(http::status::bad_request, R"({"errorType":"InvalidRequestID"})");
    }
    http::status status = http::status::accepted;
    if (what == "error") {
      outcome.kind = LambdaOutcome::Kind::kError;
    } else if (what == "response" && !chunked && outcome.payload.size() > kBufferedLimit) {
      outcome.kind = LambdaOutcome::Kind::kRejected;  // as Lambda does: the client gets an error
      status = http::status::payload_too_large;
    } else if (what == "response") {
      outcome.kind = LambdaOutcome::Kind::kResponse;
    } else {
      return reply(http::status::not_found, "{}");
    }
    outcomes[id] = outcome;
    changed.notify_all();
    return reply(status, status == http::status::accepted ? R"({"status":"OK"})"
                                                          : R"({"errorType":"RequestEntityTooLarge"})");
  }
};

LambdaEmulator::LambdaEmulator() : impl_(std::make_unique<Impl>()) {
  impl_->acceptor.listen();
  impl_->accept_thread = std::thread([this] { impl_->accept_loop(); });
}

LambdaEmulator::~LambdaEmulator() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
    impl_->changed.notify_all();
    // Wakes the blocked accept and reads: shutdown(2) is safe from another thread.
    ::shutdown(impl_->acceptor.native_handle(), SHUT_RDWR);
    for (int fd : impl_->sockets) ::shutdown(fd, SHUT_RDWR);
  }
  impl_->accept_thread.join();
  for (auto& thread : impl_->connections) thread.join();
}

std::string LambdaEmulator::address() const {
  return "127.0.0.1:" + std::to_string(impl_->acceptor.local_endpoint().port());
}

std::string LambdaEmulator::invoke(const std::string& event, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::duration_cast<std::chrono::milliseconds>(
                            (std::chrono::system_clock::now() + timeout).time_since_epoch())
                            .count();
  std::lock_guard lock(impl_->mutex);
  std::string id = "request-" + std::to_string(++impl_->next_id);
  impl_->outcomes[id] = {};
  impl_->queue.push_back({id, event, deadline});
  impl_->changed.notify_all();
  return id;
}

LambdaOutcome LambdaEmulator::wait(const std::string& request_id, double seconds) {
  std::unique_lock lock(impl_->mutex);
  impl_->changed.wait_for(lock, std::chrono::duration<double>(seconds),
                          [&] { return impl_->outcomes[request_id].kind != LambdaOutcome::Kind::kNone; });
  return impl_->outcomes[request_id];
}

std::optional<LambdaOutcome> LambdaEmulator::wait_init_error(double seconds) {
  std::unique_lock lock(impl_->mutex);
  impl_->changed.wait_for(lock, std::chrono::duration<double>(seconds),
                          [&] { return impl_->init_error.has_value(); });
  return impl_->init_error;
}

UrlResponse LambdaEmulator::call(const std::string& event) {
  const LambdaOutcome outcome = wait(invoke(event));
  if (outcome.kind != LambdaOutcome::Kind::kResponse) {
    throw std::runtime_error("no response to the invocation (kind " +
                             std::to_string(static_cast<int>(outcome.kind)) +
                             "): " + outcome.payload.substr(0, 300));
  }
  return url_response(outcome);
}

}  // namespace imageflex::test
