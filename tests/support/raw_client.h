// A plain TCP client for what HTTP libraries will not send or do: smuggling attempts, a
// head dribbled byte by byte, a reader that never reads, many idle connections.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace imageflex::test {

class RawConnection {
 public:
  // Connects to 127.0.0.1:port. `receive_buffer` (bytes, 0 = the system's) is set before
  // connecting, so a client that does not read holds back only that much.
  explicit RawConnection(int port, int receive_buffer = 0);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool send(std::string_view bytes);  // false once the server has closed or reset it
  // Up to `max` bytes, waiting up to `seconds` for the first: "" on timeout or close.
  std::string read_some(std::size_t max, double seconds);
  // Everything until the server closes (or resets) the connection, or `seconds` pass.
  std::string read_until_closed(double seconds);
  // True when the server has closed (or reset) the connection: a read gave 0 or an error.
  bool closed() const { return closed_; }
  void close();

 private:
  int fd_ = -1;
  bool closed_ = false;
};

// One HTTP/1.1 response as it came over the wire.
struct RawResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string header(const std::string& name) const {
    auto found = headers.find(name);
    return found == headers.end() ? "" : found->second;
  }
};

// The complete responses in `bytes` (each framed by Content-Length; no body for HEAD is
// not handled). `rest` gets what is left over: an incomplete response, or garbage.
std::vector<RawResponse> parse_responses(const std::string& bytes, std::string* rest = nullptr);

// CPU time (user + system) a process has used, in seconds, from /proc/PID/stat.
double cpu_seconds(int pid);

}  // namespace imageflex::test
