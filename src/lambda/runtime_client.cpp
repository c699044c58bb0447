#include "lambda/runtime_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <stdexcept>

namespace imageflex {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using Tcp = net::ip::tcp;

constexpr std::string_view kApi = "/2018-06-01/runtime";

std::string error_json(const std::string& type, const std::string& message) {
  return nlohmann::json{{"errorType", type}, {"errorMessage", message}}.dump();
}

class Connection {
 public:
  Connection(const std::string& host, const std::string& port) : stream_(io_) {
    Tcp::resolver resolver(io_);
    stream_.connect(resolver.resolve(host, port));
  }

  template <typename Body>
  void write(http::request<Body>& request) {
    request.set(http::field::host, host_header());
    http::write(stream_, request);
  }

  beast::tcp_stream& stream() { return stream_; }

  http::response<http::string_body> read() {
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(std::uint64_t{64} << 20);  // events are up to Lambda's own 6 MB request limit
    http::read(stream_, buffer, parser);
    return parser.release();
  }

  std::string host_header() const {
    auto endpoint = stream_.socket().remote_endpoint();
    return endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
  }

 private:
  net::io_context io_;
  beast::tcp_stream stream_;
};

// A 2xx, or a runtime_error saying what the API answered.
http::response<http::string_body> checked(http::response<http::string_body> response, std::string_view what) {
  if (response.result_int() / 100 != 2) {
    throw std::runtime_error("Runtime API refused " + std::string(what) + ": " +
                             std::to_string(response.result_int()) + " " + response.body().substr(0, 200));
  }
  return response;
}

}  // namespace

RuntimeClient::RuntimeClient(const std::string& host_port) {
  const auto colon = host_port.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == host_port.size()) {
    throw std::invalid_argument("AWS_LAMBDA_RUNTIME_API '" + host_port + "': expected HOST:PORT");
  }
  host_ = host_port.substr(0, colon);
  port_ = host_port.substr(colon + 1);
}

Invocation RuntimeClient::next() {
  Connection connection(host_, port_);
  http::request<http::empty_body> request{http::verb::get, std::string(kApi) + "/invocation/next", 11};
  connection.write(request);
  auto response = checked(connection.read(), "next");
  Invocation invocation;
  invocation.request_id = std::string(response["Lambda-Runtime-Aws-Request-Id"]);
  if (invocation.request_id.empty())
    throw std::runtime_error("Runtime API sent an event without a request id");
  const std::string deadline(response["Lambda-Runtime-Deadline-Ms"]);
  if (!deadline.empty()) {
    try {
      invocation.deadline_ms = std::stoll(deadline);
    } catch (const std::exception&) {
      throw std::runtime_error("Runtime API sent a bad Lambda-Runtime-Deadline-Ms '" + deadline + "'");
    }
  }
  invocation.event = std::move(response.body());
  return invocation;
}

void RuntimeClient::respond(const std::string& request_id, std::string_view payload) {
  post("/invocation/" + request_id + "/response", payload, "", "the response");
}

void RuntimeClient::respond_streaming(const std::string& request_id, std::string_view prelude,
                                      std::string_view body) {
  Connection connection(host_, port_);
  http::request<http::empty_body> request{http::verb::post,
                                          std::string(kApi) + "/invocation/" + request_id + "/response", 11};
  request.set(http::field::host, connection.host_header());
  request.set("Lambda-Runtime-Function-Response-Mode", "streaming");
  request.set(http::field::content_type, "application/vnd.awslambda.http-integration-response");
  request.chunked(true);
  http::request_serializer<http::empty_body> serializer{request};
  http::write_header(connection.stream(), serializer);
  // The function URL reads the prelude up to the eight NUL bytes, then passes the rest on.
  std::string head(prelude);
  head.append(8, '\0');
  net::write(connection.stream(), http::make_chunk(net::buffer(head)));
  // Pieces of 1 MiB: the API forwards each as it comes, and no one chunk is huge.
  constexpr std::size_t kPiece = std::size_t{1} << 20;
  for (std::size_t at = 0; at < body.size(); at += kPiece) {
    net::write(connection.stream(), http::make_chunk(net::buffer(body.substr(at, kPiece))));
  }
  net::write(connection.stream(), http::make_chunk_last());
  checked(connection.read(), "the streamed response");
}

void RuntimeClient::invocation_error(const std::string& request_id, const std::string& type,
                                     const std::string& message) {
  post("/invocation/" + request_id + "/error", error_json(type, message), type, "the invocation error");
}

void RuntimeClient::init_error(const std::string& type, const std::string& message) {
  post("/init/error", error_json(type, message), type, "the init error");
}

void RuntimeClient::post(const std::string& path, std::string_view json, const std::string& error_type,
                         std::string_view what) {
  Connection connection(host_, port_);
  http::request<http::string_body> request{http::verb::post, std::string(kApi) + path, 11};
  request.set(http::field::content_type, "application/json");
  if (!error_type.empty()) request.set("Lambda-Runtime-Function-Error-Type", error_type);
  request.body() = std::string(json);
  request.prepare_payload();
  connection.write(request);
  checked(connection.read(), what);
}

}  // namespace imageflex
