// A small real HTTP client (libcurl) for the integration tests.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace imageflex::test {

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  long new_connections = 0;  // 0 when the request reused a kept-alive connection
  long http_version = 0;     // CURL_HTTP_VERSION_1_1, CURL_HTTP_VERSION_2_0, ...
  std::string header(const std::string& name) const {
    auto found = headers.find(name);
    return found == headers.end() ? "" : found->second;
  }
  bool has_header(const std::string& name) const { return headers.count(name) > 0; }
};

// How a client connects; the defaults are plain HTTP/1.1 from any local address.
struct HttpClientOptions {
  std::string ca_file;        // for https://: trust this certificate (verification stays on)
  std::string local_address;  // bind to this source address (e.g. "127.0.0.2": another client)
  bool http2 = false;         // insist on HTTP/2 over TLS (by ALPN); else libcurl's default
};

class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // `url` is sent as is (no re-encoding), so tests can send raw, odd targets.
  HttpResponse request(const std::string& method, const std::string& url,
                       const std::vector<std::string>& headers = {});
  HttpResponse get(const std::string& url, const std::vector<std::string>& headers = {}) {
    return request("GET", url, headers);
  }

 private:
  void* curl_;
  HttpClientOptions options_;
};

// N requests at once, each on its own connection; results in order.
std::vector<HttpResponse> concurrent_get(const std::string& url, int count,
                                         const std::vector<std::string>& headers = {});

}  // namespace imageflex::test
