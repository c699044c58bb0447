#include "scripted_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <stdexcept>

namespace imageflex::test {
namespace {

constexpr std::size_t kMaxHead = std::size_t{64} * 1024;

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

bool receive_more(int fd, std::string& buffer) {
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

// Reads one request (head, then a Content-Length body) off the connection. False
// when the peer closed, the server is stopping, or the request is malformed.
bool read_request(int fd, std::string& buffer, SeenRequest& request) {
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
    if (!slot.empty()) slot += ',';
    slot += trim_spaces(line.substr(colon + 1));
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

std::string render(const Reply& reply, bool is_head) {
  std::string text = "HTTP/1.1 " + std::to_string(reply.status) +
                     (reply.status == 200 ? " OK" : " Scripted") +
                     "\r\nContent-Length: " + std::to_string(reply.body.size()) + "\r\n";
  for (const auto& [name, value] : reply.headers) text.append(name).append(": ").append(value).append("\r\n");
  text += "\r\n";
  if (!is_head) text += reply.body;  // a HEAD answer declares the length but has no body
  return text;
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    // MSG_NOSIGNAL: a client that gave up must not kill the test with SIGPIPE.
    const ssize_t sent = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(sent));
  }
  return true;
}

}  // namespace

Reply ok(std::string body, std::vector<std::pair<std::string, std::string>> headers) {
  Reply reply;
  reply.body = std::move(body);
  reply.headers = std::move(headers);
  return reply;
}

Reply s3_error(int status, std::string_view code) {
  Reply reply;
  reply.status = status;
  reply.headers = {{"Content-Type", "application/xml"}};
  reply.body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + std::string(code) +
               "</Code><Message>scripted</Message><RequestId>tx0</RequestId></Error>";
  return reply;
}

Reply cut_short(std::string body, std::size_t sent) {
  Reply reply = ok(std::move(body));
  reply.cut_after = sent;
  return reply;
}

Reply status_only(int status) {
  Reply reply;
  reply.status = status;
  return reply;
}

Reply hang(std::chrono::milliseconds duration) {
  Reply reply;
  reply.hang = duration;
  return reply;
}

Reply drop() {
  Reply reply;
  reply.close = true;
  return reply;
}

std::string SeenRequest::header(const std::string& name) const {
  const auto found = headers.find(name);
  return found == headers.end() ? "<absent>" : found->second;
}

ScriptedServer::ScriptedServer(std::vector<Reply> script, Reply otherwise)
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

ScriptedServer::~ScriptedServer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    // Wakes connection threads blocked in recv; they close their own sockets.
    for (const int fd : open_fds_) shutdown(fd, SHUT_RDWR);
  }
  wake_.notify_all();               // ends hangs and delays early
  shutdown(listen_fd_, SHUT_RDWR);  // makes accept() return
  acceptor_.join();
  // The acceptor is gone, so no thread is added from here on.
  for (std::thread& thread : connection_threads_) thread.join();
  close(listen_fd_);
}

std::vector<SeenRequest> ScriptedServer::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

int ScriptedServer::connections() const {
  std::lock_guard lock(mutex_);
  return accepted_;
}

void ScriptedServer::accept_loop() {
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

void ScriptedServer::serve(int fd, int connection) {
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
    if (reply.delay.count() > 0) {
      std::unique_lock lock(mutex_);
      if (wake_.wait_for(lock, reply.delay, [this] { return stopping_; })) break;
    }
    const std::string text = render(reply, is_head);
    if (reply.cut_after < reply.body.size()) {
      send_all(fd, std::string_view(text).substr(0, text.size() - reply.body.size() + reply.cut_after));
      break;
    }
    if (!send_all(fd, text)) break;
  }
  {
    std::lock_guard lock(mutex_);
    open_fds_.erase(fd);
  }
  close(fd);
}

int closed_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    close(fd);
    throw std::runtime_error("cannot bind 127.0.0.1");
  }
  close(fd);
  return ntohs(address.sin_port);
}

}  // namespace imageflex::test
