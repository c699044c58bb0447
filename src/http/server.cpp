#include "http/server.h"

#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/resource.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>
#include <vector>

#include "common/log.h"
#include "common/text.h"
#include "common/thread_name.h"
#include "http/worker_pool.h"

namespace imageflex {

namespace beast = boost::beast;
namespace net = boost::asio;
using Tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kHeaderLimit = std::size_t{16} * 1024;  // a whole request head; beyond: 431 (or 414)
constexpr std::size_t kBodyLimit = std::size_t{64} * 1024;    // GET and HEAD carry no body worth reading
// A response whose client takes fewer bytes than this in send_timeout_ms is cut.
constexpr std::size_t kSendProgressBytes = std::size_t{32} * 1024;
// After a last response, what the client still sends is read and dropped this long, so
// closing with unread bytes (a TCP reset) does not destroy the response in flight.
constexpr auto kLingerTimeout = std::chrono::seconds(2);
// Out of file descriptors, accept waits this long before trying again instead of spinning.
constexpr auto kAcceptBackoff = std::chrono::milliseconds(100);
// File descriptors kept for the store, files and logs, on top of one per handler thread
// and the store's held variant files (--open-files).
constexpr rlim_t kDescriptorReserve = 64;
// After the drain timeout, the 503s for what is left get this long to be written.
constexpr auto kLastWritesLimit = std::chrono::seconds(1);

beast::string_view view(std::string_view text) {
  return {text.data(), text.size()};
}

class Session;

// What the sessions share with the server: settings, the handler and its pool, and the
// open sessions (counted for the connection cap, walked on SIGTERM).
struct Front {
  const Config& config;
  Handler& handler;
  WorkerPool& handler_pool;
  std::size_t max_connections = 0;
  std::atomic<bool> draining{false};               // SIGTERM: finish what is in hand, take nothing new
  std::atomic<bool> abandoning{false};             // drain timeout passed: jobs still queued are skipped
  RepeatFilter repeats{std::chrono::seconds(10)};  // a flood of one warning is one line per interval
  std::mutex mutex;
  std::unordered_set<Session*> sessions;
  bool accept_paused = false;              // at the cap: the next close resumes accepting
  std::function<void()> resume_accepting;  // posts accept() to the acceptor's loop

  void warn(const std::string& message) {
    if (auto line = repeats.admit(message)) log_event("warn", *line);
  }
};

// One client connection: reads a request head under a timeout, refuses what it cannot
// frame safely, answers what needs no blocking work itself, hands the rest to a handler thread, and
// writes the response under a progress timeout. Runs on one I/O thread's loop, which only that
// thread runs: its handlers never run at once, with no strand to order them.
class Session : public std::enable_shared_from_this<Session> {
 public:
  enum class State { kReading, kHandling, kWriting, kClosing };

  Session(Tcp::socket socket, Front& front) : stream_(std::move(socket)), front_(front) {
    const std::lock_guard lock(front_.mutex);
    front_.sessions.insert(this);
  }

  ~Session() {
    bool resume = false;
    {
      const std::lock_guard lock(front_.mutex);
      front_.sessions.erase(this);
      resume = front_.accept_paused && !front_.draining && front_.sessions.size() < front_.max_connections;
      if (resume) front_.accept_paused = false;
    }
    if (resume) front_.resume_accepting();
  }

  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read(); });
  }

  State state() const { return state_.load(); }

  // SIGTERM: a connection waiting for its next request is closed; one with a request in
  // hand finishes it and then closes (the response says Connection: close).
  void drain() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->state_ == State::kReading) self->close_now();
    });
  }

  // The drain timeout has passed: a request still waiting for (or on) a handler thread is
  // answered with a 503 now, rather than a bare close when the process exits.
  void abandon() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->state_ == State::kReading) return self->close_now();
      if (self->state_ != State::kHandling) return;
      self->respond(std::make_shared<Response>(self->front_.handler.overloaded(
          *self->request_, self->received_, "server shutting down; retry shortly")));
    });
  }

 private:
  // Waits for the first bytes of the next request: a new connection has the header
  // timeout to start, a kept-alive one the idle timeout.
  void read() {
    state_ = State::kReading;
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(kBodyLimit);
    if (buffer_.size() > 0) return read_head();  // a pipelined request is already here
    const int wait_ms = served_ == 0 ? front_.config.header_timeout_ms : front_.config.idle_timeout_ms;
    stream_.expires_after(std::chrono::milliseconds(wait_ms));
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = shared_from_this()](beast::error_code ec, std::size_t bytes) {
                              if (self->state_ == State::kClosing) return;
                              if (ec) return self->close_now();  // gone, or idle too long: nothing to say
                              self->buffer_.commit(bytes);
                              self->read_head();
                            });
  }

  // The whole head must arrive within the header timeout of its first byte, however
  // slowly it trickles in (slowloris).
  void read_head() {
    stream_.expires_after(std::chrono::milliseconds(front_.config.header_timeout_ms));
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, std::size_t head_bytes) {
                              if (self->state_ == State::kClosing) return;
                              // Beast 1.74 lets some heads over its limit through, depending
                              // on how the bytes arrived: the limit is checked here too.
                              if (!ec && head_bytes > kHeaderLimit) ec = http::error::header_limit;
                              self->on_head(ec);
                            });
  }

  void on_head(beast::error_code ec) {
    if (ec == beast::error::timeout) {
      front_.warn("request head not complete within " + std::to_string(front_.config.header_timeout_ms) +
                  " ms; connection closed");
      return close_now();
    }
    if (ec == http::error::header_limit) {
      // Beast refuses the head as a whole: a request line it could not finish, or a target
      // over half the limit, is a long target (414); otherwise the fields are too large (431).
      const auto target = parser_->get().target();
      if (target.empty() || target.size() > kHeaderLimit / 2) {
        return refuse(http::status::uri_too_long, "request target too long");
      }
      return refuse(http::status::request_header_fields_too_large, "request header fields too large");
    }
    if (ec) return close_or_refuse(ec);
    received_ = Clock::now();
    if (const char* problem = framing_problem()) return refuse(http::status::bad_request, problem);
    if (parser_->is_done()) return dispatch();
    // A body (only other methods may have one, and they get 405): read it under the same timeout.
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (self->state_ == State::kClosing) return;
                       if (ec) return self->close_or_refuse(ec);
                       self->dispatch();
                     });
  }

  void close_or_refuse(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == net::error::eof || ec == beast::error::timeout ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset) {
      return close_now();
    }
    if (ec == http::error::body_limit)
      return refuse(http::status::payload_too_large, "request body too large");
    refuse(http::status::bad_request, "malformed request");
  }

  // Where this request ends must be beyond doubt: a proxy in front that framed it another
  // way would read the bytes after it as a second request of its own (request smuggling).
  const char* framing_problem() const {
    const auto& request = parser_->get();
    const auto encodings = request.count(http::field::transfer_encoding);
    if (encodings > 1) return "more than one Transfer-Encoding";
    if (encodings == 1) {
      const auto value = request[http::field::transfer_encoding];
      if (!beast::iequals(view(trim({value.data(), value.size()})), "chunked")) {
        return "unsupported Transfer-Encoding (only chunked)";
      }
      if (request.count(http::field::content_length) > 0) return "both Transfer-Encoding and Content-Length";
    }
    const bool bodyless = request.method() == http::verb::get || request.method() == http::verb::head;
    const auto length = parser_->content_length();
    if (bodyless && (parser_->chunked() || (length && *length > 0))) return "GET and HEAD carry no body";
    return nullptr;
  }

  // What needs no blocking work (trusted memory hits, health, stats) is answered here, on
  // the I/O thread; the rest waits for a handler thread (which may block on storage and
  // transforms; I/O threads never do).
  void dispatch() {
    request_ = std::make_shared<Request>(parser_->release());
    target_ = std::string(request_->target().data(), request_->target().size());
    if (auto answer = front_.handler.try_answer_fast(*request_, received_)) {
      return respond(std::make_shared<Response>(std::move(*answer)));
    }
    state_ = State::kHandling;
    auto answer = std::make_shared<std::shared_ptr<Response>>();  // made on the handler thread
    const bool taken = front_.handler_pool.try_submit(
        [self = shared_from_this(), request = request_, received = received_, answer] {
          if (self->front_.abandoning) return;  // answered 503 already; the process is exiting
          *answer = std::make_shared<Response>(self->front_.handler.handle(*request, std::nullopt, received));
        },
        // Sent once the handler thread counts as free, so the client's next request finds it.
        [self = shared_from_this(), answer] {
          if (!*answer) return;
          net::post(self->stream_.get_executor(), [self, response = *answer] {
            if (self->state_ == State::kHandling) self->respond(response);  // else answered at shutdown
          });
        });
    if (!taken) respond(std::make_shared<Response>(front_.handler.overloaded(*request_, received_)));
  }

  void refuse(http::status status, const char* reason) {
    auto response = std::make_shared<Response>(status, 11);
    response->set(http::field::content_type, "text/plain; charset=utf-8");
    response->set(http::field::cache_control, "no-store");
    response->body() = std::string(reason) + "\n";
    response->keep_alive(false);  // what follows in the stream cannot be trusted
    response->prepare_payload();
    target_.clear();
    respond(response);
  }

  void respond(const std::shared_ptr<Response>& response) {
    if (front_.draining) response->keep_alive(false);
    state_ = State::kWriting;
    request_.reset();
    response_ = response;
    serializer_.emplace(*response_);
    sent_ = 0;
    stream_.expires_never();  // the progress timer below bounds the write instead
    // Most responses leave in their first write, and then the send queue is never asked for:
    // it is read when a write leaves some of the response behind (on_written), or when the
    // first window ends with none done (check_progress).
    start_progress_window(std::nullopt);
    write_some();
  }

  // The response goes out as fast as the client takes it; the timeout is on progress, not
  // the total, so a slow but steady reader of a large image is served to the end.
  void write_some() {
    http::async_write_some(stream_, *serializer_,
                           [self = shared_from_this()](beast::error_code ec, std::size_t bytes) {
                             self->on_written(ec, bytes);
                           });
  }

  // Bytes in the kernel's send queue, not yet taken (acknowledged) by the client.
  std::size_t queued_bytes() {
    int queued = 0;
    if (::ioctl(stream_.socket().native_handle(), SIOCOUTQ, &queued) != 0 || queued < 0) return 0;
    return static_cast<std::size_t>(queued);
  }

  // Progress is what the client took in a window: bytes written plus the shrinking of the
  // send queue. Counting writes alone would not do: with a large send buffer the kernel
  // wakes a writer only after a third of it has drained, long after a steady reader began.
  // A window begun without the queue (nullopt) cannot judge the client: it only measures it.
  void start_progress_window(std::optional<std::size_t> queued) {
    window_sent_ = sent_;
    window_queued_ = queued;
    write_timer_.expires_after(std::chrono::milliseconds(front_.config.send_timeout_ms));
    write_timer_.async_wait(
        [self = shared_from_this(), generation = ++write_generation_](beast::error_code ec) {
          if (!ec && self->state_ == State::kWriting && generation == self->write_generation_)
            self->check_progress();
        });
  }

  void check_progress() {
    const std::size_t queued = queued_bytes();
    const std::size_t shrunk = window_queued_ && *window_queued_ > queued ? *window_queued_ - queued : 0;
    const std::size_t taken = sent_ - window_sent_ + shrunk;
    if (taken >= kSendProgressBytes || !window_queued_) return start_progress_window(queued);
    log_event("warn", "slow reader cut: " + std::to_string(sent_) + " bytes sent (body of " +
                          std::to_string(response_->body().size()) + ") for " + target_ + ": under " +
                          std::to_string(kSendProgressBytes) + " bytes taken in " +
                          std::to_string(front_.config.send_timeout_ms) + " ms");
    close_now();
  }

  void on_written(beast::error_code ec, std::size_t bytes) {
    if (state_ != State::kWriting) return;  // cut by the progress timer
    sent_ += bytes;
    if (ec) return close_now();  // the client went away
    if (!serializer_->is_done()) {
      if (!window_queued_) {  // the window can judge from here on
        window_queued_ = queued_bytes();
        window_sent_ = sent_;
      }
      return write_some();
    }
    ++write_generation_;  // the progress timer has nothing left to watch
    write_timer_.cancel();
    const bool keep_alive = response_->keep_alive() && !front_.draining;
    serializer_.reset();
    response_.reset();
    ++served_;
    if (!keep_alive) return close();
    read();
  }

  // The last response is written: stop sending, and read (and drop) what the client still
  // sends for a moment before closing, so a reset does not destroy the response.
  void close() {
    state_ = State::kClosing;
    beast::error_code ignored;
    stream_.socket().shutdown(Tcp::socket::shutdown_send, ignored);
    stream_.expires_after(kLingerTimeout);
    linger();
  }

  void linger() {
    buffer_.consume(buffer_.size());
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (!ec) self->linger();
                            });
  }

  void close_now() {
    state_ = State::kClosing;
    write_timer_.cancel();
    stream_.close();
  }

  beast::tcp_stream stream_;
  Front& front_;
  std::atomic<State> state_{State::kReading};
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<Request> request_;  // while a handler has it
  std::string target_;                // for the log of a cut response
  Clock::time_point received_;
  std::shared_ptr<Response> response_;  // while it is written
  std::optional<ResponseSerializer> serializer_;
  net::steady_timer write_timer_{stream_.get_executor()};  // the progress window of a response
  std::uint64_t write_generation_ = 0;                     // which response the timer watches
  std::size_t sent_ = 0;                                   // bytes of it written so far
  std::size_t window_sent_ = 0;                            // sent_ when the window began
  std::optional<std::size_t> window_queued_;               // the send queue when the window began
  int served_ = 0;
};

// The connection cap: what was asked for, kept below the file descriptor limit so
// accept() never meets EMFILE in the normal course. A connection holds two descriptors
// while it sends a body from the store (its socket, and the file: the folder store's own,
// or an S3 object's spool file), and any of them may, so each counts twice: the limit
// then holds however many stream at once, without a count to keep or a fallback to copy.
std::size_t connection_cap(const Config& config) {
  rlimit limit{};
  auto cap = static_cast<std::size_t>(config.max_connections);
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return cap;
  const rlim_t reserve = kDescriptorReserve + static_cast<rlim_t>(config.handler_threads) +
                         static_cast<rlim_t>(config.open_files);
  const auto usable =
      static_cast<std::size_t>(limit.rlim_cur > reserve + 2 ? (limit.rlim_cur - reserve) / 2 : 1);
  if (usable < cap) {
    log_event("info", "max-connections lowered from " + std::to_string(cap) + " to " +
                          std::to_string(usable) + ": the file descriptor limit is " +
                          std::to_string(limit.rlim_cur) + " (ulimit -n)");
    cap = usable;
  }
  return cap;
}

// One event loop per I/O thread, each run by that thread alone (as nginx runs a worker per
// core): a connection lives on one loop, so its handlers need no strand, and work posted on a
// loop wakes no other thread. With one loop shared by the I/O threads, half the memory hits
// woke the other thread (a futex call and a context switch each) and every handler went
// through a strand (BENCHMARKS.md, "Hits: a loop per I/O thread").
std::vector<std::unique_ptr<net::io_context>> make_loops(int count) {
  std::vector<std::unique_ptr<net::io_context>> loops;
  for (int i = 0; i < std::max(count, 1); ++i) loops.push_back(std::make_unique<net::io_context>(1));
  return loops;
}

}  // namespace

struct Server::Impl {
  Impl(const Config& config, Handler& handler)
      : config_(config),
        front_{config_, handler, handler_pool_},
        loops_(make_loops(config.io_threads)),
        control_(loops_.front()->get_executor()),
        acceptor_(control_),
        accept_timer_(control_),
        drain_timer_(control_),
        signals_(control_, SIGINT, SIGTERM),
        handler_pool_(config.handler_threads, static_cast<std::size_t>(config.handler_queue), {},
                      "if-handler") {
    for (auto& loop : loops_) keep_running_.push_back(net::make_work_guard(*loop));
    front_.max_connections = connection_cap(config_);
    front_.resume_accepting = [this] { net::post(control_, [this] { accept(); }); };
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

  // At the cap, accepting pauses (new clients wait in the kernel's backlog) until a
  // connection closes; out of descriptors, it backs off instead of spinning.
  void accept() {
    if (front_.draining || !acceptor_.is_open()) return;
    {
      const std::lock_guard lock(front_.mutex);
      if (front_.sessions.size() >= front_.max_connections) {
        front_.accept_paused = true;
        front_.warn("connection limit reached (" + std::to_string(front_.max_connections) +
                    " open); accepting paused until one closes");
        return;
      }
    }
    // Each connection on the next loop in turn.
    auto& loop = *loops_[next_loop_++ % loops_.size()];
    acceptor_.async_accept(loop.get_executor(), [this](beast::error_code ec, Tcp::socket socket) {
      if (ec == net::error::operation_aborted || front_.draining) return;
      if (ec == net::error::no_descriptors || ec.value() == ENFILE || ec == net::error::no_buffer_space ||
          ec == net::error::no_memory) {
        front_.warn("cannot accept a connection: " + ec.message() + " (" + std::to_string(open_sessions()) +
                    " open); retrying every " + std::to_string(kAcceptBackoff.count()) + " ms");
        accept_timer_.expires_after(kAcceptBackoff);
        accept_timer_.async_wait([this](beast::error_code wait_ec) {
          if (!wait_ec) accept();
        });
        return;
      }
      if (!ec) std::make_shared<Session>(std::move(socket), front_)->start();
      accept();
    });
  }

  std::size_t open_sessions() {
    const std::lock_guard lock(front_.mutex);
    return front_.sessions.size();
  }

  // The live sessions, held so they cannot go while the server talks to them.
  std::vector<std::shared_ptr<Session>> sessions() {
    std::vector<std::shared_ptr<Session>> result;
    const std::lock_guard lock(front_.mutex);
    for (Session* session : front_.sessions) {
      if (auto held = session->weak_from_this().lock()) result.push_back(std::move(held));
    }
    return result;
  }

  bool busy() {
    auto all = sessions();
    return std::any_of(all.begin(), all.end(),
                       [](const auto& s) { return s->state() != Session::State::kClosing; });
  }

  // SIGTERM: stop accepting, close idle connections, let requests in hand finish until
  // the drain timeout, then answer the rest with 503 and stop.
  void stop_gracefully() {
    log_event("info", "stopping: draining requests in progress (up to " +
                          std::to_string(config_.drain_timeout_ms) + " ms)");
    front_.draining = true;
    beast::error_code ignored;
    acceptor_.close(ignored);
    accept_timer_.cancel();
    for (const auto& session : sessions()) session->drain();
    drain_until_ = Clock::now() + std::chrono::milliseconds(config_.drain_timeout_ms);
    wait_for_drain();
  }

  void wait_for_drain() {
    if (!busy()) return finish();
    if (Clock::now() >= drain_until_) {
      if (!front_.abandoning) {
        front_.abandoning = true;
        abandoned_ = true;
        log_event("warn", "drain timeout passed: answering the requests left with 503");
        for (const auto& session : sessions()) session->abandon();
        drain_until_ = Clock::now() + kLastWritesLimit;
      } else {
        return finish();  // the last 503s had their chance
      }
    }
    drain_timer_.expires_after(std::chrono::milliseconds(20));
    drain_timer_.async_wait([this](beast::error_code) { wait_for_drain(); });
  }

  void finish() {
    keep_running_.clear();
    for (auto& loop : loops_) loop->stop();
  }

  const Config config_;
  Front front_;  // refers to handler_pool_, constructed below, only once sessions exist
  // After front_: sessions the loops still hold unregister on destruction.
  std::vector<std::unique_ptr<net::io_context>> loops_;
  // Keeps a loop with no connection yet from returning at once.
  std::vector<net::executor_work_guard<net::io_context::executor_type>> keep_running_;
  // The first loop's: the acceptor, its timers and the signals, on the thread that runs it.
  net::io_context::executor_type control_;
  std::size_t next_loop_ = 0;
  Tcp::acceptor acceptor_;
  net::steady_timer accept_timer_;
  net::steady_timer drain_timer_;
  Clock::time_point drain_until_;
  bool abandoned_ = false;
  net::signal_set signals_;
  // Last, so it is destroyed first: its jobs hold sessions, which need io_ and front_.
  WorkerPool handler_pool_;
};

Server::Server(const Config& config, Handler& handler) : impl_(std::make_unique<Impl>(config, handler)) {}

Server::~Server() = default;

unsigned short Server::port() const {
  return impl_->acceptor_.local_endpoint().port();
}

bool Server::run() {
  impl_->signals_.async_wait([this](beast::error_code ec, int) {
    if (!ec) impl_->stop_gracefully();
  });
  net::post(impl_->control_, [this] { impl_->accept(); });
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < impl_->loops_.size(); ++i)
    threads.emplace_back([loop = impl_->loops_[i].get()] {
      name_this_thread("if-io");
      loop->run();
    });
  impl_->loops_.front()->run();
  for (auto& thread : threads) thread.join();
  return !impl_->abandoned_;
}

}  // namespace imageflex
