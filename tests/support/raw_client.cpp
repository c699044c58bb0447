#include "raw_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace imageflex::test {

RawConnection::RawConnection(int port, int receive_buffer) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error("socket() failed");
  if (receive_buffer > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd_);
    throw std::runtime_error("connect() failed");
  }
}

RawConnection::~RawConnection() {
  close();
}

void RawConnection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool RawConnection::send(std::string_view bytes) {
  while (!bytes.empty()) {
    const auto sent = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (sent <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(sent));
  }
  return true;
}

std::string RawConnection::read_some(std::size_t max, double seconds) {
  pollfd waiting{fd_, POLLIN, 0};
  if (closed_ || ::poll(&waiting, 1, static_cast<int>(seconds * 1000)) <= 0) return "";
  std::string bytes(max, '\0');
  const auto got = ::recv(fd_, bytes.data(), max, 0);
  if (got <= 0) {
    closed_ = true;
    return "";
  }
  bytes.resize(static_cast<std::size_t>(got));
  return bytes;
}

std::string RawConnection::read_until_closed(double seconds) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  std::string bytes;
  while (!closed_) {
    const double left = std::chrono::duration<double>(give_up - std::chrono::steady_clock::now()).count();
    if (left <= 0) break;
    bytes += read_some(1 << 16, left);
  }
  return bytes;
}

std::vector<RawResponse> parse_responses(const std::string& bytes, std::string* rest) {
  std::vector<RawResponse> responses;
  std::size_t at = 0;
  for (;;) {
    const auto head_end = bytes.find("\r\n\r\n", at);
    if (head_end == std::string::npos || bytes.compare(at, 5, "HTTP/") != 0) break;
    RawResponse response;
    std::istringstream head(bytes.substr(at, head_end - at));
    std::string line;
    std::getline(head, line);
    response.status = std::stoi(line.substr(line.find(' ') + 1, 3));
    while (std::getline(head, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      const auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      const auto value = line.find_first_not_of(' ', colon + 1);
      response.headers[name] = value == std::string::npos ? "" : line.substr(value);
    }
    const std::size_t length =
        response.headers.count("content-length") ? std::stoul(response.header("content-length")) : 0;
    const std::size_t body_at = head_end + 4;
    if (bytes.size() < body_at + length) break;
    response.body = bytes.substr(body_at, length);
    responses.push_back(std::move(response));
    at = body_at + length;
  }
  if (rest) *rest = bytes.substr(at);
  return responses;
}

double cpu_seconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command name (in parentheses, which may hold spaces): utime is the
  // 14th field of the line and stime the 15th, i.e. the 12th and 13th after ") ".
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string field;
  long ticks = 0;
  for (int i = 1; i <= 13 && fields >> field; ++i) {
    if (i >= 12) ticks += std::stol(field);
  }
  return static_cast<double>(ticks) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace imageflex::test
