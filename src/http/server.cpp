#include "http/server.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>

#include <csignal>
#include <thread>
#include <vector>

#include "common/log.h"
#include "http/worker_pool.h"

namespace imageflex {

namespace beast = boost::beast;
namespace net = boost::asio;
using Tcp = net::ip::tcp;

namespace {

constexpr auto kIdleTimeout = std::chrono::seconds(30);
constexpr auto kDrainLimit = std::chrono::seconds(10);
constexpr std::size_t kHeaderLimit = std::size_t{16} * 1024;  // targets over this are refused outright
constexpr std::size_t kBodyLimit = std::size_t{64} * 1024;    // GET and HEAD carry no body worth reading

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Tcp::socket socket, Handler& handler, WorkerPool& handler_pool)
      : stream_(std::move(socket)), handler_(handler), handler_pool_(handler_pool) {}

  void start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); });
  }

 private:
  void read() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(kBodyLimit);
    stream_.expires_after(kIdleTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == net::error::operation_aborted) {
      return close();
    }
    if (ec == http::error::header_limit) return reject(http::status::uri_too_long, "request head too long\n");
    if (ec) return reject(http::status::bad_request, "malformed request\n");
    auto request = std::make_shared<Request>(parser_->release());
    // Handler threads may block on storage and transforms; I/O threads never do.
    bool taken = handler_pool_.try_submit([self = shared_from_this(), request] {
      auto response = std::make_shared<Response>(self->handler_.handle(*request));
      net::post(self->stream_.get_executor(), [self, response] { self->write(response); });
    });
    if (!taken) write(std::make_shared<Response>(handler_.overloaded(*request)));
  }

  void reject(http::status status, const char* reason) {
    auto response = std::make_shared<Response>(status, 11);
    response->set(http::field::content_type, "text/plain; charset=utf-8");
    response->body() = reason;
    response->keep_alive(false);
    response->prepare_payload();
    write(response);
  }

  void write(const std::shared_ptr<Response>& response) {
    stream_.expires_after(kIdleTimeout);
    http::async_write(stream_, *response,
                      [self = shared_from_this(), response](beast::error_code ec, std::size_t) {
                        if (ec || !response->keep_alive()) return self->close();
                        self->read();
                      });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(Tcp::socket::shutdown_send, ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Handler& handler_;
  WorkerPool& handler_pool_;
};

}  // namespace

struct Server::Impl {
  Impl(const Config& config, Handler& handler)
      : config_(config),
        handler_(handler),
        io_(config.io_threads),
        acceptor_(io_),
        signals_(io_, SIGINT, SIGTERM),
        handler_pool_(config.handler_threads, static_cast<std::size_t>(config.handler_threads) * 64) {
    auto colon = config.listen.rfind(':');
    std::string host = config.listen.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    auto port = static_cast<unsigned short>(std::stoi(config.listen.substr(colon + 1)));
    beast::error_code ec;
    auto address = net::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
    if (ec) throw std::runtime_error("invalid listen address '" + host + "'");
    Tcp::endpoint endpoint(address, port);
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind(endpoint, ec);
    if (ec) throw std::runtime_error("cannot listen on " + config.listen + ": " + ec.message());
    acceptor_.listen(net::socket_base::max_listen_connections);
  }

  void accept() {
    acceptor_.async_accept(net::make_strand(io_), [this](beast::error_code ec, Tcp::socket socket) {
      if (!ec) std::make_shared<Session>(std::move(socket), handler_, handler_pool_)->start();
      if (acceptor_.is_open()) accept();
    });
  }

  // Stops the I/O threads once no request is queued or running (or the limit passes).
  void drain() {
    const bool idle = handler_pool_.queued() == 0 && handler_pool_.running() == 0;
    if (idle || std::chrono::steady_clock::now() > drain_until_) {
      // One more turn of the loop lets the last responses be written.
      drain_timer_.expires_after(std::chrono::milliseconds(idle ? 50 : 0));
      drain_timer_.async_wait([this](beast::error_code) { io_.stop(); });
      return;
    }
    drain_timer_.expires_after(std::chrono::milliseconds(20));
    drain_timer_.async_wait([this](beast::error_code) { drain(); });
  }

  const Config config_;
  Handler& handler_;
  net::io_context io_;
  net::steady_timer drain_timer_{io_};
  std::chrono::steady_clock::time_point drain_until_;
  Tcp::acceptor acceptor_;
  net::signal_set signals_;
  WorkerPool handler_pool_;
};

Server::Server(const Config& config, Handler& handler) : impl_(std::make_unique<Impl>(config, handler)) {}

Server::~Server() = default;

unsigned short Server::port() const {
  return impl_->acceptor_.local_endpoint().port();
}

void Server::run() {
  // On SIGTERM/SIGINT: stop accepting, let the requests in hand finish and their
  // responses go out (up to kDrainLimit), then stop. A load balancer retries the rest.
  impl_->signals_.async_wait([this](beast::error_code, int) {
    log_event("info", "stopping: draining requests in progress");
    beast::error_code ignored;
    impl_->acceptor_.close(ignored);
    impl_->drain_until_ = std::chrono::steady_clock::now() + kDrainLimit;
    impl_->drain();
  });
  impl_->accept();
  std::vector<std::thread> threads;
  for (int i = 1; i < impl_->config_.io_threads; ++i) threads.emplace_back([this] { impl_->io_.run(); });
  impl_->io_.run();
  for (auto& thread : threads) thread.join();
}

}  // namespace imageflex
